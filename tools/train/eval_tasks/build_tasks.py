#!/usr/bin/env python3
"""Source of truth for tasks.jsonl.

Every task below was written for this project; none is taken or paraphrased
from a public benchmark. Edit tasks here, then regenerate and validate:

    python3 build_tasks.py      # writes tasks.jsonl next to this file
    python3 validate.py         # checks every task

Each task() call takes three raw strings, stored verbatim:
  * the prompt: a function header plus docstring with 1-3 doctest examples,
    ending with a newline after the closing triple quote;
  * the reference body (indented lines that follow the prompt);
  * the hidden tests, one assert statement per line.
"""

import json
import os
import re

TASKS = []


def task(prompt, reference, tests, task_id=None):
    name = re.match(r"def (\w+)", prompt).group(1)
    TASKS.append(
        {
            "id": task_id or name,
            "prompt": prompt,
            "tests": [line.strip() for line in tests.strip().splitlines() if line.strip()],
            "reference": reference.lstrip("\n"),
            "entry_point": name,
        }
    )


# ---------------------------------------------------------------- strings

task(r'''def shout_words(sentence: str, min_len: int) -> str:
    """Uppercase every word whose length is at least min_len; leave other words alone.

    Words are separated by single spaces.

    >>> shout_words("the quick brown fox", 5)
    'the QUICK BROWN fox'
    """
''', r'''
    return " ".join(w.upper() if len(w) >= min_len else w for w in sentence.split(" "))
''', r'''
assert shout_words("", 3) == ""
assert shout_words("a bb ccc", 2) == "a BB CCC"
assert shout_words("hello", 6) == "hello"
assert shout_words("hi there", 0) == "HI THERE"
''')

task(r'''def initials(full_name: str) -> str:
    """Build the initials of a name: the first letter of each word, uppercased, each followed by a dot.

    >>> initials("ada lovelace")
    'A.L.'
    >>> initials("  grace   brewster hopper ")
    'G.B.H.'
    """
''', r'''
    return "".join(w[0].upper() + "." for w in full_name.split())
''', r'''
assert initials("") == ""
assert initials("x") == "X."
assert initials("Alan Mathison Turing") == "A.M.T."
assert initials("   ") == ""
''')

task(r'''def strip_digits(text: str) -> str:
    """Remove every decimal digit (0-9) from text.

    >>> strip_digits("r2d2 and c3po")
    'rd and cpo'
    """
''', r'''
    return "".join(c for c in text if c not in "0123456789")
''', r'''
assert strip_digits("") == ""
assert strip_digits("12345") == ""
assert strip_digits("no digits") == "no digits"
assert strip_digits("a1b2c3!") == "abc!"
''')

task(r'''def stretch(word: str, times: int) -> str:
    """Repeat each character of word `times` times in place.

    >>> stretch("abc", 2)
    'aabbcc'
    >>> stretch("hi", 0)
    ''
    """
''', r'''
    return "".join(ch * times for ch in word)
''', r'''
assert stretch("", 5) == ""
assert stretch("x", 3) == "xxx"
assert stretch("a b", 2) == "aa  bb"
assert stretch("ab", 1) == "ab"
''')

task(r'''def zigzag_case(text: str) -> str:
    """Return text with characters at even positions uppercased and characters at odd positions lowercased.

    Positions count every character, including spaces and punctuation, starting at 0.

    >>> zigzag_case("python")
    'PyThOn'
    >>> zigzag_case("a b")
    'A B'
    """
''', r'''
    return "".join(c.upper() if i % 2 == 0 else c.lower() for i, c in enumerate(text))
''', r'''
assert zigzag_case("") == ""
assert zigzag_case("HELLO") == "HeLlO"
assert zigzag_case("x") == "X"
assert zigzag_case("ab-cd") == "Ab-cD"
''')

task(r'''def longest_word(sentence: str) -> str:
    """Return the longest whitespace-separated word in sentence.

    If several words share the maximum length, return the first of them.
    Return an empty string when there are no words.

    >>> longest_word("I love sunny mornings")
    'mornings'
    """
''', r'''
    best = ""
    for word in sentence.split():
        if len(word) > len(best):
            best = word
    return best
''', r'''
assert longest_word("") == ""
assert longest_word("cat dog emu") == "cat"
assert longest_word("  spaced   out  ") == "spaced"
assert longest_word("a bb ccc bb") == "ccc"
''')

task(r'''def snake_to_camel(name: str) -> str:
    """Convert a snake_case identifier to lowerCamelCase.

    >>> snake_to_camel("user_account_id")
    'userAccountId'
    >>> snake_to_camel("plain")
    'plain'
    """
''', r'''
    parts = name.split("_")
    return parts[0] + "".join(p.capitalize() for p in parts[1:])
''', r'''
assert snake_to_camel("") == ""
assert snake_to_camel("a_b_c") == "aBC"
assert snake_to_camel("http_status_code") == "httpStatusCode"
assert snake_to_camel("x") == "x"
''')

task(r'''def camel_to_snake(name: str) -> str:
    """Turn a lowerCamelCase or UpperCamelCase name into snake_case.

    An underscore goes before every uppercase letter except at the very start,
    and all letters become lowercase.

    >>> camel_to_snake("parseHttpHeader")
    'parse_http_header'
    >>> camel_to_snake("Widget")
    'widget'
    """
''', r'''
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i > 0:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
''', r'''
assert camel_to_snake("") == ""
assert camel_to_snake("already") == "already"
assert camel_to_snake("aB") == "a_b"
assert camel_to_snake("MyHTTP") == "my_h_t_t_p"
assert camel_to_snake("x2Y") == "x2_y"
''')

task(r'''def expand_ranges(spec: str) -> list:
    """Expand a comma-separated list of integers and inclusive ranges such as "2-4".

    Spaces around the pieces are allowed and empty pieces are skipped.

    >>> expand_ranges("1-3,7,10-11")
    [1, 2, 3, 7, 10, 11]
    """
''', r'''
    result = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = part.split("-")
            result.extend(range(int(lo), int(hi) + 1))
        else:
            result.append(int(part))
    return result
''', r'''
assert expand_ranges("") == []
assert expand_ranges("5") == [5]
assert expand_ranges("4-4") == [4]
assert expand_ranges("9, 1-2") == [9, 1, 2]
assert expand_ranges("0-5") == [0, 1, 2, 3, 4, 5]
''')

task(r'''def word_lengths(sentence: str) -> list:
    """Return the length of each whitespace-separated word in sentence, in order.

    >>> word_lengths("to be or not")
    [2, 2, 2, 3]
    """
''', r'''
    return [len(w) for w in sentence.split()]
''', r'''
assert word_lengths("") == []
assert word_lengths("  hello  ") == [5]
assert word_lengths("a bb ccc") == [1, 2, 3]
assert word_lengths("tab\tsep") == [3, 3]
''')

task(r'''def commonest_letter(text: str) -> str:
    """Return the letter that occurs most often in text, ignoring case and non-letters.

    The answer is lowercase. Ties go to the letter that comes first in the alphabet.
    Return '' when text has no letters.

    >>> commonest_letter("Banana split")
    'a'
    """
''', r'''
    counts = {}
    for ch in text.lower():
        if ch.isalpha():
            counts[ch] = counts.get(ch, 0) + 1
    if not counts:
        return ""
    return min(counts, key=lambda c: (-counts[c], c))
''', r'''
assert commonest_letter("") == ""
assert commonest_letter("123 !!") == ""
assert commonest_letter("zzyy") == "y"
assert commonest_letter("AaB") == "a"
assert commonest_letter("Mississippi") == "i"
''')

task(r'''def is_hex_color(code: str) -> bool:
    """Check whether code is a CSS-style hex color: '#' followed by exactly 3 or 6 hex digits (any case).

    >>> is_hex_color("#1a2B3c")
    True
    >>> is_hex_color("123456")
    False
    """
''', r'''
    if not code.startswith("#") or len(code) not in (4, 7):
        return False
    return all(c in "0123456789abcdefABCDEF" for c in code[1:])
''', r'''
assert is_hex_color("#fff") is True
assert is_hex_color("#ffff") is False
assert is_hex_color("#") is False
assert is_hex_color("#12345g") is False
assert is_hex_color("") is False
assert is_hex_color("#ABCDEF") is True
''')

task(r'''def parse_pairs(text: str) -> dict:
    """Parse 'key=value' pairs separated by semicolons into a dict of strings.

    Whitespace around keys and values is removed and empty segments are skipped.
    Only the first '=' of a segment separates key from value, and a later key
    overwrites an earlier one.

    >>> parse_pairs("host=localhost; port=8080")
    {'host': 'localhost', 'port': '8080'}
    """
''', r'''
    result = {}
    for segment in text.split(";"):
        if not segment.strip():
            continue
        key, _, value = segment.partition("=")
        result[key.strip()] = value.strip()
    return result
''', r'''
assert parse_pairs("") == {}
assert parse_pairs("a=1;;b=2;") == {"a": "1", "b": "2"}
assert parse_pairs("k=v;k=w") == {"k": "w"}
assert parse_pairs(" x = y = z ") == {"x": "y = z"}
''')

task(r'''def compact_duration(seconds: int) -> str:
    """Format a non-negative number of seconds like '1h 5m 3s'.

    Parts that are zero are left out, except that 0 seconds gives '0s'.

    >>> compact_duration(3903)
    '1h 5m 3s'
    >>> compact_duration(120)
    '2m'
    """
''', r'''
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if secs or not parts:
        parts.append(f"{secs}s")
    return " ".join(parts)
''', r'''
assert compact_duration(0) == "0s"
assert compact_duration(59) == "59s"
assert compact_duration(3600) == "1h"
assert compact_duration(3601) == "1h 1s"
assert compact_duration(90000) == "25h"
''')

task(r'''def ordinal(n: int) -> str:
    """Return n (a non-negative integer) followed by its English ordinal suffix.

    >>> ordinal(1)
    '1st'
    >>> ordinal(12)
    '12th'
    >>> ordinal(23)
    '23rd'
    """
''', r'''
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
''', r'''
assert ordinal(0) == "0th"
assert ordinal(2) == "2nd"
assert ordinal(11) == "11th"
assert ordinal(13) == "13th"
assert ordinal(101) == "101st"
assert ordinal(112) == "112th"
assert ordinal(42) == "42nd"
''')

task(r'''def tidy_spaces(text: str) -> str:
    """Collapse every run of spaces into one space and trim spaces at both ends.

    >>> tidy_spaces("  too   many    spaces ")
    'too many spaces'
    """
''', r'''
    return " ".join(part for part in text.split(" ") if part)
''', r'''
assert tidy_spaces("") == ""
assert tidy_spaces("     ") == ""
assert tidy_spaces("one") == "one"
assert tidy_spaces("a  b") == "a b"
''')

task(r'''def letter_counts(text: str) -> dict:
    """Count the lowercase ASCII letters a-z in text; other characters are ignored.

    >>> letter_counts("hello")
    {'h': 1, 'e': 1, 'l': 2, 'o': 1}
    """
''', r'''
    counts = {}
    for ch in text:
        if "a" <= ch <= "z":
            counts[ch] = counts.get(ch, 0) + 1
    return counts
''', r'''
assert letter_counts("") == {}
assert letter_counts("ABC") == {}
assert letter_counts("a-a b!") == {"a": 2, "b": 1}
assert letter_counts("zzz") == {"z": 3}
''')

task(r'''def vowel_indices(word: str) -> list:
    """Return the positions of the vowels (a, e, i, o, u; either case) in word.

    >>> vowel_indices("Education")
    [0, 2, 4, 6, 7]
    """
''', r'''
    return [i for i, ch in enumerate(word) if ch.lower() in "aeiou"]
''', r'''
assert vowel_indices("") == []
assert vowel_indices("rhythm") == []
assert vowel_indices("AEIOU") == [0, 1, 2, 3, 4]
assert vowel_indices("why yes") == [5]
''')

task(r'''def wrap_text(text: str, width: int) -> list:
    """Greedily wrap the words of text into lines of at most width characters.

    Words are separated by whitespace and joined with single spaces. A word longer
    than width gets a line of its own.

    >>> wrap_text("the quick brown fox jumps", 10)
    ['the quick', 'brown fox', 'jumps']
    """
''', r'''
    lines = []
    current = ""
    for word in text.split():
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current += " " + word
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines
''', r'''
assert wrap_text("", 5) == []
assert wrap_text("hello", 3) == ["hello"]
assert wrap_text("a b c d", 3) == ["a b", "c d"]
assert wrap_text("aa bb", 5) == ["aa bb"]
assert wrap_text("tiny enormousword x", 6) == ["tiny", "enormousword", "x"]
''')

task(r'''def advance_vowels(text: str) -> str:
    """Replace each vowel by the next one in the cycle a -> e -> i -> o -> u -> a, keeping its case.

    >>> advance_vowels("Banana")
    'Benene'
    >>> advance_vowels("OUT")
    'UAT'
    """
''', r'''
    nxt = {"a": "e", "e": "i", "i": "o", "o": "u", "u": "a"}
    out = []
    for ch in text:
        low = ch.lower()
        if low in nxt:
            out.append(nxt[low].upper() if ch.isupper() else nxt[low])
        else:
            out.append(ch)
    return "".join(out)
''', r'''
assert advance_vowels("") == ""
assert advance_vowels("xyz") == "xyz"
assert advance_vowels("aeiou") == "eioua"
assert advance_vowels("AEIOU") == "EIOUA"
assert advance_vowels("Hello World") == "Hillu Wurld"
''')

task(r'''def repeated_letters(word: str) -> list:
    """Sorted list of the letters (lowercased) that occur more than once in word, ignoring case.

    >>> repeated_letters("Programming")
    ['g', 'm', 'r']
    """
''', r'''
    counts = {}
    for ch in word.lower():
        if ch.isalpha():
            counts[ch] = counts.get(ch, 0) + 1
    return sorted(ch for ch, n in counts.items() if n > 1)
''', r'''
assert repeated_letters("") == []
assert repeated_letters("abc") == []
assert repeated_letters("Aa") == ["a"]
assert repeated_letters("1122 bb") == ["b"]
''')

task(r'''def words_by_length(text: str) -> dict:
    """Map each word length to how many words in text have that length.

    >>> words_by_length("a bb cc d")
    {1: 2, 2: 2}
    """
''', r'''
    counts = {}
    for word in text.split():
        counts[len(word)] = counts.get(len(word), 0) + 1
    return counts
''', r'''
assert words_by_length("") == {}
assert words_by_length("hello") == {5: 1}
assert words_by_length("ab cd ef") == {2: 3}
assert words_by_length("one three five") == {3: 1, 5: 1, 4: 1}
''')

task(r'''def spell_digits(number: str) -> str:
    """Spell out each digit of a string of digits as an English word, separated by spaces.

    >>> spell_digits("907")
    'nine zero seven'
    """
''', r'''
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    return " ".join(names[int(d)] for d in number)
''', r'''
assert spell_digits("") == ""
assert spell_digits("0") == "zero"
assert spell_digits("123") == "one two three"
assert spell_digits("88") == "eight eight"
''')

task(r'''def censor(text: str, banned: str) -> str:
    """Replace every whole word equal to banned (case-insensitive) with asterisks of the same length.

    Words are separated by single spaces; a word with punctuation attached is a different word.

    >>> censor("darn it, Darn", "darn")
    '**** it, ****'
    """
''', r'''
    return " ".join("*" * len(w) if w.lower() == banned.lower() else w for w in text.split(" "))
''', r'''
assert censor("", "x") == ""
assert censor("darned darn", "darn") == "darned ****"
assert censor("no match here", "zzz") == "no match here"
assert censor("A a b", "a") == "* * b"
assert censor("oops, oops", "oops") == "oops, ****"
''')

task(r'''def hashtags(post: str) -> list:
    """Return the hashtags in post, without the '#', in order of appearance.

    A hashtag is a '#' immediately followed by one or more letters, digits or underscores;
    it ends at the first other character.

    >>> hashtags("Loving #rust and #python3!")
    ['rust', 'python3']
    """
''', r'''
    tags = []
    i = 0
    while i < len(post):
        if post[i] == "#":
            j = i + 1
            while j < len(post) and (post[j].isalnum() or post[j] == "_"):
                j += 1
            if j > i + 1:
                tags.append(post[i + 1:j])
            i = j
        else:
            i += 1
    return tags
''', r'''
assert hashtags("") == []
assert hashtags("# nothing") == []
assert hashtags("#a#b") == ["a", "b"]
assert hashtags("end with #snake_case.") == ["snake_case"]
assert hashtags("##double") == ["double"]
''')

task(r'''def drop_comment(line: str) -> str:
    """Remove a '#' comment from a line of code and any trailing whitespace left behind.

    Everything from the first '#' onwards is dropped (there is no need to handle '#' inside strings).

    >>> drop_comment("x = 1  # set x")
    'x = 1'
    """
''', r'''
    return line.split("#", 1)[0].rstrip()
''', r'''
assert drop_comment("") == ""
assert drop_comment("# only a comment") == ""
assert drop_comment("no comment   ") == "no comment"
assert drop_comment("  indented # c # d") == "  indented"
''')

task(r'''def shared_prefix_length(a: str, b: str) -> int:
    """Return how many leading characters a and b have in common.

    >>> shared_prefix_length("interview", "internet")
    5
    """
''', r'''
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return n
''', r'''
assert shared_prefix_length("", "abc") == 0
assert shared_prefix_length("same", "same") == 4
assert shared_prefix_length("abc", "xbc") == 0
assert shared_prefix_length("pre", "prefix") == 3
''')

task(r'''def count_capitals(text: str) -> int:
    """Number of uppercase ASCII letters (A-Z) in text.

    >>> count_capitals("Hello World, NASA")
    6
    """
''', r'''
    return sum(1 for ch in text if "A" <= ch <= "Z")
''', r'''
assert count_capitals("") == 0
assert count_capitals("lower") == 0
assert count_capitals("ABC") == 3
assert count_capitals("\u00c9 and Z") == 1
''')

task(r'''def swap_adjacent(text: str) -> str:
    """Swap characters pairwise: positions 0 and 1, 2 and 3, and so on. A final odd character stays put.

    >>> swap_adjacent("abcdefg")
    'badcfeg'
    """
''', r'''
    chars = list(text)
    for i in range(0, len(chars) - 1, 2):
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)
''', r'''
assert swap_adjacent("") == ""
assert swap_adjacent("a") == "a"
assert swap_adjacent("ab") == "ba"
assert swap_adjacent("1234") == "2143"
''')

task(r'''def leetspeak(text: str) -> str:
    """Replace letters with look-alike digits: a->4, e->3, i->1, o->0, s->5 (either case).

    >>> leetspeak("Noise Sets")
    'N0153 53t5'
    """
''', r'''
    table = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5"}
    return "".join(table.get(ch.lower(), ch) for ch in text)
''', r'''
assert leetspeak("") == ""
assert leetspeak("xyz") == "xyz"
assert leetspeak("AEIOS") == "43105"
assert leetspeak("leet") == "l33t"
''')

task(r'''def consonant_count(text: str) -> int:
    """Count the ASCII letters in text that are not vowels (a, e, i, o, u), ignoring case.

    The letter 'y' counts as a consonant.

    >>> consonant_count("Rhythm & Blues")
    9
    """
''', r'''
    return sum(1 for ch in text.lower() if "a" <= ch <= "z" and ch not in "aeiou")
''', r'''
assert consonant_count("") == 0
assert consonant_count("aeiou") == 0
assert consonant_count("BCD") == 3
assert consonant_count("123 yy!") == 2
''')

task(r'''def doubled_letters(word: str) -> list:
    """Characters that appear twice (or more) in a row in word, in order of their first such run.

    Each character is listed at most once, and case matters.

    >>> doubled_letters("bookkeeper")
    ['o', 'k', 'e']
    """
''', r'''
    found = []
    for a, b in zip(word, word[1:]):
        if a == b and a not in found:
            found.append(a)
    return found
''', r'''
assert doubled_letters("") == []
assert doubled_letters("abc") == []
assert doubled_letters("aaa") == ["a"]
assert doubled_letters("abba abba") == ["b"]
assert doubled_letters("Aa") == []
''')

task(r'''def squeeze(text: str) -> str:
    """Collapse every run of the same character into a single occurrence.

    >>> squeeze("aaabccddd")
    'abcd'
    """
''', r'''
    out = []
    for ch in text:
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)
''', r'''
assert squeeze("") == ""
assert squeeze("a") == "a"
assert squeeze("abab") == "abab"
assert squeeze("  x  ") == " x "
assert squeeze("!!!???") == "!?"
''')

task(r'''def nth_word(sentence: str, n: int) -> str:
    """Return the n-th word (counting from 1) of sentence, or '' if there is no such word.

    >>> nth_word("the cat sat", 2)
    'cat'
    """
''', r'''
    words = sentence.split()
    return words[n - 1] if 1 <= n <= len(words) else ""
''', r'''
assert nth_word("", 1) == ""
assert nth_word("one", 1) == "one"
assert nth_word("one two", 3) == ""
assert nth_word("a b c", 0) == ""
''')

task(r'''def alphabet_score(word: str) -> int:
    """Sum of letter positions in the alphabet (a=1, ..., z=26), ignoring case and non-letters.

    >>> alphabet_score("Cab")
    6
    """
''', r'''
    return sum(ord(ch) - 96 for ch in word.lower() if "a" <= ch <= "z")
''', r'''
assert alphabet_score("") == 0
assert alphabet_score("z") == 26
assert alphabet_score("A-a") == 2
assert alphabet_score("hello") == 52
''')

task(r'''def fill_template(template: str, values: dict) -> str:
    """Replace each '{name}' in template by str(values[name]).

    Placeholders whose name is not in values are left exactly as they are.

    >>> fill_template("Hi {user}, you have {n} messages", {"user": "Ada", "n": 3})
    'Hi Ada, you have 3 messages'
    """
''', r'''
    out = []
    i = 0
    while i < len(template):
        if template[i] == "{":
            j = template.find("}", i)
            if j != -1 and template[i + 1:j] in values:
                out.append(str(values[template[i + 1:j]]))
                i = j + 1
                continue
        out.append(template[i])
        i += 1
    return "".join(out)
''', r'''
assert fill_template("", {}) == ""
assert fill_template("{x}{x}", {"x": 1}) == "11"
assert fill_template("{missing}", {}) == "{missing}"
assert fill_template("no braces", {"a": 1}) == "no braces"
assert fill_template("{a} and {b}", {"a": "A"}) == "A and {b}"
''')

# ---------------------------------------------------------------- paths, logs, config

task(r'''def file_extension(filename: str) -> str:
    """Return the part of filename after the last dot, lowercased.

    Return '' if there is no dot, or if the only dot is the first character
    (hidden files such as '.bashrc').

    >>> file_extension("Report.PDF")
    'pdf'
    >>> file_extension("archive.tar.gz")
    'gz'
    """
''', r'''
    dot = filename.rfind(".")
    if dot <= 0:
        return ""
    return filename[dot + 1:].lower()
''', r'''
assert file_extension("README") == ""
assert file_extension(".bashrc") == ""
assert file_extension("") == ""
assert file_extension("a.") == ""
assert file_extension(".config.JSON") == "json"
''')

task(r'''def join_url_parts(parts: list) -> str:
    """Join path segments with single slashes, removing slashes at the edges of each segment.

    Segments that are empty after removing those slashes are skipped.

    >>> join_url_parts(["api/", "/v1", "users/"])
    'api/v1/users'
    """
''', r'''
    return "/".join(p.strip("/") for p in parts if p.strip("/"))
''', r'''
assert join_url_parts([]) == ""
assert join_url_parts(["/", "a"]) == "a"
assert join_url_parts(["x"]) == "x"
assert join_url_parts(["//a//", "b", "", "c/"]) == "a/b/c"
''')

task(r'''def parent_path(path: str) -> str:
    """Return the parent directory of a POSIX-style path.

    Trailing slashes are ignored. The parent of a top-level entry such as '/etc' is '/',
    the parent of '/' is '/', and a relative name without a slash has parent '.'.

    >>> parent_path("/usr/local/bin")
    '/usr/local'
    >>> parent_path("notes.txt")
    '.'
    """
''', r'''
    trimmed = path.rstrip("/")
    if "/" not in trimmed:
        return "/" if path.startswith("/") else "."
    head = trimmed.rsplit("/", 1)[0]
    return head if head else "/"
''', r'''
assert parent_path("/etc") == "/"
assert parent_path("/etc/") == "/"
assert parent_path("a/b/") == "a"
assert parent_path("docs/guide/intro.md") == "docs/guide"
assert parent_path("/") == "/"
''')

task(r'''def bump_version(version: str, part: str) -> str:
    """Increase one part of a 'MAJOR.MINOR.PATCH' version string.

    part is 'major', 'minor' or 'patch'. Parts to the right of the bumped one reset to 0.

    >>> bump_version("1.4.2", "minor")
    '1.5.0'
    >>> bump_version("0.9.9", "patch")
    '0.9.10'
    """
''', r'''
    major, minor, patch = (int(x) for x in version.split("."))
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"
''', r'''
assert bump_version("1.2.3", "major") == "2.0.0"
assert bump_version("0.0.0", "patch") == "0.0.1"
assert bump_version("3.9.1", "minor") == "3.10.0"
assert bump_version("10.0.7", "major") == "11.0.0"
''')

task(r'''def log_level(line: str) -> str:
    """Extract the level from a log line that starts with a bracketed tag, e.g. '[WARN] ...'.

    The level is returned in uppercase. Return 'UNKNOWN' if the line does not start with '['
    or has no closing ']'.

    >>> log_level("[warn] disk almost full")
    'WARN'
    """
''', r'''
    if not line.startswith("[") or "]" not in line:
        return "UNKNOWN"
    return line[1:line.index("]")].upper()
''', r'''
assert log_level("[ERROR] boom") == "ERROR"
assert log_level("INFO no brackets") == "UNKNOWN"
assert log_level("[debug") == "UNKNOWN"
assert log_level("") == "UNKNOWN"
assert log_level("[Info]") == "INFO"
''')

task(r'''def tally_levels(lines: list) -> dict:
    """Count log lines by their level.

    Each line looks like 'LEVEL: message'; the level is the text before the first colon,
    stripped of spaces. Lines without a colon are counted under 'OTHER'.

    >>> tally_levels(["INFO: up", "ERROR: down", "INFO: up again"])
    {'INFO': 2, 'ERROR': 1}
    """
''', r'''
    counts = {}
    for line in lines:
        level = line.split(":", 1)[0].strip() if ":" in line else "OTHER"
        counts[level] = counts.get(level, 0) + 1
    return counts
''', r'''
assert tally_levels([]) == {}
assert tally_levels(["garbage"]) == {"OTHER": 1}
assert tally_levels(["WARN: a", "WARN: b: c"]) == {"WARN": 2}
assert tally_levels(["x", "DEBUG: y", "z"]) == {"OTHER": 2, "DEBUG": 1}
''')

task(r'''def parse_env_line(line: str):
    """Parse a line of a .env file into a (key, value) tuple.

    Blank lines, lines starting with '#' (after optional spaces) and lines without '='
    give None. The value is everything after the first '=', with surrounding whitespace
    stripped and one pair of enclosing double quotes removed if present.

    >>> parse_env_line('NAME = "unmask"')
    ('NAME', 'unmask')
    >>> parse_env_line("# comment") is None
    True
    """
''', r'''
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or "=" not in stripped:
        return None
    key, _, value = stripped.partition("=")
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return (key.strip(), value)
''', r'''
assert parse_env_line("") is None
assert parse_env_line("   # x=1") is None
assert parse_env_line("A=1") == ("A", "1")
assert parse_env_line("B=") == ("B", "")
assert parse_env_line('C="a=b"') == ("C", "a=b")
assert parse_env_line("novalue") is None
''')

task(r'''def ini_sections(lines: list) -> list:
    """Names of the sections of an INI file, in order of appearance.

    A section line has the form '[name]', possibly with spaces around it; the name is
    the text between the brackets with surrounding spaces removed.

    >>> ini_sections(["[core]", "editor = vim", " [user] "])
    ['core', 'user']
    """
''', r'''
    names = []
    for line in lines:
        s = line.strip()
        if len(s) >= 2 and s[0] == "[" and s[-1] == "]":
            names.append(s[1:-1].strip())
    return names
''', r'''
assert ini_sections([]) == []
assert ini_sections(["key = [x]"]) == []
assert ini_sections(["[ a b ]"]) == ["a b"]
assert ini_sections(["[x]", "[x]"]) == ["x", "x"]
''')

task(r'''def indent_width(line: str) -> int:
    """Width of the leading whitespace of line, counting a space as 1 and a tab as 4.

    >>> indent_width("    return x")
    4
    >>> indent_width("x = 1")
    0
    """
''', r'''
    width = 0
    for ch in line:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += 4
        else:
            break
    return width
''', r'''
assert indent_width("") == 0
assert indent_width("\tx") == 4
assert indent_width(" \t x") == 6
assert indent_width("      ") == 6
''')

task(r'''def expand_tabs(line: str, tab_size: int) -> str:
    """Replace each tab character with spaces up to the next multiple of tab_size columns.

    Columns are counted from 0 at the start of line.

    >>> expand_tabs("ab" + chr(9) + "c", 4)
    'ab  c'
    """
''', r'''
    out = ""
    for ch in line:
        if ch == "\t":
            out += " " * (tab_size - len(out) % tab_size)
        else:
            out += ch
    return out
''', r'''
assert expand_tabs("", 4) == ""
assert expand_tabs("\t", 4) == "    "
assert expand_tabs("abcd\te", 4) == "abcd    e"
assert expand_tabs("a\tb\tc", 2) == "a b c"
assert expand_tabs("no tabs", 8) == "no tabs"
''')

task(r'''def indent_lines(lines: list, spaces: int) -> list:
    """Prefix every non-blank line with the given number of spaces; blank lines become ''.

    A blank line is one that is empty or contains only whitespace.

    >>> indent_lines(["if x:", "", "pass"], 2)
    ['  if x:', '', '  pass']
    """
''', r'''
    pad = " " * spaces
    return [pad + line if line.strip() else "" for line in lines]
''', r'''
assert indent_lines([], 4) == []
assert indent_lines(["   "], 4) == [""]
assert indent_lines(["a"], 0) == ["a"]
assert indent_lines([" b", "c"], 1) == ["  b", " c"]
''')

task(r'''def number_lines(lines: list, start: int = 1) -> list:
    """Prefix each line with its line number and ': ', counting from start.

    >>> number_lines(["alpha", "beta"])
    ['1: alpha', '2: beta']
    """
''', r'''
    return [f"{i}: {line}" for i, line in enumerate(lines, start)]
''', r'''
assert number_lines([]) == []
assert number_lines(["x"], 0) == ["0: x"]
assert number_lines(["", ""]) == ["1: ", "2: "]
assert number_lines(["a", "b"], start=10) == ["10: a", "11: b"]
''')

task(r'''def changed_lines(old: list, new: list) -> list:
    """Indices of lines that differ between two versions of a file.

    Positions present in only one of the two lists count as changed.

    >>> changed_lines(["a", "b", "c"], ["a", "x", "c", "d"])
    [1, 3]
    """
''', r'''
    longest = max(len(old), len(new))
    return [i for i in range(longest) if i >= len(old) or i >= len(new) or old[i] != new[i]]
''', r'''
assert changed_lines([], []) == []
assert changed_lines(["a"], []) == [0]
assert changed_lines(["same"], ["same"]) == []
assert changed_lines(["a", "b"], ["b", "a"]) == [0, 1]
''')

task(r'''def longest_line_length(text: str) -> int:
    """Length of the longest line in text, where lines are separated by newline characters.

    >>> longest_line_length("ab" + chr(10) + "abcd" + chr(10) + "a")
    4
    """
''', r'''
    return max(len(line) for line in text.split("\n"))
''', r'''
assert longest_line_length("") == 0
assert longest_line_length("abc") == 3
assert longest_line_length("\n\n") == 0
assert longest_line_length("x\nlonger line\n") == 11
''')

task(r'''def heading_level(line: str) -> int:
    """Return the Markdown heading level of line (1-6), or 0 if it is not a heading.

    A heading starts with 1 to 6 '#' characters followed by a space.

    >>> heading_level("### Setup")
    3
    >>> heading_level("#hashtag")
    0
    """
''', r'''
    count = 0
    while count < len(line) and line[count] == "#":
        count += 1
    if 1 <= count <= 6 and line[count:count + 1] == " ":
        return count
    return 0
''', r'''
assert heading_level("") == 0
assert heading_level("# Title") == 1
assert heading_level("####### too deep") == 0
assert heading_level("###### six") == 6
assert heading_level("#") == 0
assert heading_level("text # not") == 0
''')

task(r'''def strip_tags(html: str) -> str:
    """Remove every tag, i.e. everything from a '<' up to and including the next '>'.

    A '>' that is not inside a tag is ordinary text.

    >>> strip_tags("<p>Hi <b>there</b></p>")
    'Hi there'
    """
''', r'''
    out = []
    inside = False
    for ch in html:
        if ch == "<":
            inside = True
        elif ch == ">" and inside:
            inside = False
        elif not inside:
            out.append(ch)
    return "".join(out)
''', r'''
assert strip_tags("") == ""
assert strip_tags("plain") == "plain"
assert strip_tags("<br/>") == ""
assert strip_tags("a<x>b<y>c") == "abc"
assert strip_tags("1 > 0") == "1 > 0"
''')

task(r'''def quote_arg(arg: str) -> str:
    """Wrap a command-line argument in double quotes if it is empty or contains a space.

    Other arguments are returned unchanged.

    >>> quote_arg("file.txt")
    'file.txt'
    >>> quote_arg("my file.txt")
    '"my file.txt"'
    """
''', r'''
    if arg == "" or " " in arg:
        return f'"{arg}"'
    return arg
''', r'''
assert quote_arg("") == '""'
assert quote_arg("a") == "a"
assert quote_arg(" ") == '" "'
assert quote_arg("-x=1") == "-x=1"
''')

task(r'''def parse_flag(text: str):
    """Interpret a configuration value as a boolean.

    'true', 'yes', 'on' and '1' mean True; 'false', 'no', 'off' and '0' mean False
    (case-insensitive, surrounding spaces ignored). Anything else gives None.

    >>> parse_flag(" Yes ")
    True
    >>> parse_flag("maybe") is None
    True
    """
''', r'''
    value = text.strip().lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    return None
''', r'''
assert parse_flag("ON") is True
assert parse_flag("0") is False
assert parse_flag("") is None
assert parse_flag("nope") is None
assert parse_flag("False") is False
''')

task(r'''def byte_checksum(text: str) -> int:
    """Sum of the code points of all characters in text, modulo 256.

    >>> byte_checksum("AB")
    131
    """
''', r'''
    return sum(ord(ch) for ch in text) % 256
''', r'''
assert byte_checksum("") == 0
assert byte_checksum("a") == 97
assert byte_checksum("\x80\x80") == 0
assert byte_checksum("zzz") == 110
''')

task(r'''def valid_username(name: str) -> bool:
    """Check a username: 3 to 16 characters, starting with an ASCII letter, and made only
    of ASCII letters, digits and underscores.

    >>> valid_username("neo_1999")
    True
    >>> valid_username("9lives")
    False
    """
''', r'''
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    allowed = letters + "0123456789_"
    return 3 <= len(name) <= 16 and name[0] in letters and all(c in allowed for c in name)
''', r'''
assert valid_username("ab") is False
assert valid_username("abc") is True
assert valid_username("a" * 16) is True
assert valid_username("a" * 17) is False
assert valid_username("bad-name") is False
assert valid_username("_under") is False
assert valid_username("") is False
''')

task(r'''def password_score(password: str) -> int:
    """Score a password from 0 to 5.

    One point each for: length of at least 8, a lowercase letter, an uppercase letter,
    a digit, and a character that is neither a letter nor a digit.

    >>> password_score("abc")
    1
    >>> password_score("Tr0ub4dor&3")
    5
    """
''', r'''
    checks = [
        len(password) >= 8,
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    ]
    return sum(checks)
''', r'''
assert password_score("") == 0
assert password_score("        ") == 2
assert password_score("ABCDEFGH") == 2
assert password_score("a1") == 2
assert password_score("aA1!") == 4
''')

task(r'''def mask_email(address: str) -> str:
    """Obscure the part of an e-mail address before the '@'.

    Keep its first character, replace the rest of it with exactly '***', and keep the
    '@' and the domain unchanged.

    >>> mask_email("alice@example.com")
    'a***@example.com'
    """
''', r'''
    local, _, domain = address.partition("@")
    return local[:1] + "***@" + domain
''', r'''
assert mask_email("b@x.org") == "b***@x.org"
assert mask_email("Zed.Shaw@mail.co") == "Z***@mail.co"
assert mask_email("ab@c") == "a***@c"
assert mask_email("first.last+tag@sub.example.com") == "f***@sub.example.com"
''')

task(r'''def parse_query(query: str) -> dict:
    """Parse a URL query string like 'a=1&b=2&a=3' into a dict of lists of values.

    Values stay strings and keep their order. A piece without '=' gets the value ''.
    Empty pieces are ignored.

    >>> parse_query("tag=x&page=2&tag=y")
    {'tag': ['x', 'y'], 'page': ['2']}
    """
''', r'''
    result = {}
    for piece in query.split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        result.setdefault(key, []).append(value)
    return result
''', r'''
assert parse_query("") == {}
assert parse_query("flag") == {"flag": [""]}
assert parse_query("a=1&&a=2") == {"a": ["1", "2"]}
assert parse_query("k=v=w") == {"k": ["v=w"]}
''')

task(r'''def build_query(params: dict) -> str:
    """Build 'key=value' pairs joined by '&', with keys in sorted order.

    Values are converted with str(); keys whose value is None are skipped.

    >>> build_query({"q": "cats", "page": 2})
    'page=2&q=cats'
    """
''', r'''
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if params[k] is not None)
''', r'''
assert build_query({}) == ""
assert build_query({"a": None}) == ""
assert build_query({"b": 1, "a": None, "c": True}) == "b=1&c=True"
assert build_query({"x": ""}) == "x="
''')

task(r'''def slugify(title: str) -> str:
    """Turn a title into a URL slug.

    Letters and digits are kept (lowercased); every run of other characters becomes a
    single '-', and the slug never starts or ends with '-'.

    >>> slugify("Hello, World!")
    'hello-world'
    >>> slugify("  10 Tips & Tricks ")
    '10-tips-tricks'
    """
''', r'''
    out = []
    pending = False
    for ch in title.lower():
        if ch.isalnum():
            if pending and out:
                out.append("-")
            pending = False
            out.append(ch)
        else:
            pending = True
    return "".join(out)
''', r'''
assert slugify("") == ""
assert slugify("!!!") == ""
assert slugify("already-a-slug") == "already-a-slug"
assert slugify("A--B__C") == "a-b-c"
assert slugify("Rust 2024") == "rust-2024"
''')

task(r'''def shorten(text: str, limit: int) -> str:
    """Shorten text to at most limit characters, ending with '...' when something was cut.

    Text that already fits is returned unchanged. limit is at least 3.

    >>> shorten("Hello, world", 8)
    'Hello...'
    >>> shorten("short", 10)
    'short'
    """
''', r'''
    if len(text) <= limit:
        return text
    return text[:limit - 3] + "..."
''', r'''
assert shorten("", 3) == ""
assert shorten("abcd", 3) == "..."
assert shorten("abcd", 4) == "abcd"
assert shorten("abcdefgh", 7) == "abcd..."
''')

task(r'''def count_sentences(text: str) -> int:
    """Count sentences, where a sentence ends with a run of one or more '.', '!' or '?' characters.

    >>> count_sentences("Hi. How are you?! Fine...")
    3
    """
''', r'''
    count = 0
    previous_end = False
    for ch in text:
        is_end = ch in ".!?"
        if is_end and not previous_end:
            count += 1
        previous_end = is_end
    return count
''', r'''
assert count_sentences("") == 0
assert count_sentences("no ending") == 0
assert count_sentences("One. Two. Three.") == 3
assert count_sentences("Wait!!! What??") == 2
assert count_sentences("...") == 1
''')

task(r'''def capitalize_sentences(text: str) -> str:
    """Uppercase the first character of text and every character that directly follows
    '. ', '! ' or '? ' (the punctuation mark and exactly one space). Nothing else changes.

    >>> capitalize_sentences("hello. is it me? yes")
    'Hello. Is it me? Yes'
    """
''', r'''
    chars = list(text)
    for i, ch in enumerate(chars):
        if i == 0 or (i >= 2 and chars[i - 1] == " " and chars[i - 2] in ".!?"):
            chars[i] = ch.upper()
    return "".join(chars)
''', r'''
assert capitalize_sentences("") == ""
assert capitalize_sentences("e.g. this") == "E.g. This"
assert capitalize_sentences("wow!  two spaces") == "Wow!  two spaces"
assert capitalize_sentences("ok? ok") == "Ok? Ok"
assert capitalize_sentences("3 cats. dogs") == "3 cats. Dogs"
''')

task(r'''def top_word(text: str) -> str:
    """Most frequent word in text, compared case-insensitively and returned in lowercase.

    Words are maximal runs of letters. On a tie, the word whose first occurrence comes
    earliest wins. Return '' if there are no words.

    >>> top_word("The cat and the hat. THE end")
    'the'
    """
''', r'''
    words = []
    current = ""
    for ch in text.lower() + " ":
        if ch.isalpha():
            current += ch
        elif current:
            words.append(current)
            current = ""
    counts = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    best = ""
    for w in counts:
        if not best or counts[w] > counts[best]:
            best = w
    return best
''', r'''
assert top_word("") == ""
assert top_word("42 !!") == ""
assert top_word("b a a b") == "b"
assert top_word("it's it") == "it"
assert top_word("Go go GO stop") == "go"
''')

task(r'''def vocabulary(text: str) -> list:
    """Sorted list of the distinct words in text, lowercased.

    Words are split on whitespace, then the characters . , ; : ! ? are stripped from
    both ends of each word; words that become empty are dropped.

    >>> vocabulary("Dogs, cats; dogs!")
    ['cats', 'dogs']
    """
''', r'''
    words = set()
    for raw in text.split():
        word = raw.strip(".,;:!?").lower()
        if word:
            words.add(word)
    return sorted(words)
''', r'''
assert vocabulary("") == []
assert vocabulary("... !!") == []
assert vocabulary("b A a") == ["a", "b"]
assert vocabulary("well-known, well") == ["well", "well-known"]
''')

task(r'''def numbers_in(text: str) -> list:
    """Return the non-negative integers written in text, as ints, in order.

    A number is a maximal run of the digits 0-9.

    >>> numbers_in("room 12, floor 3b, 007")
    [12, 3, 7]
    """
''', r'''
    numbers = []
    current = ""
    for ch in text + " ":
        if ch in "0123456789":
            current += ch
        elif current:
            numbers.append(int(current))
            current = ""
    return numbers
''', r'''
assert numbers_in("") == []
assert numbers_in("none here") == []
assert numbers_in("123") == [123]
assert numbers_in("1a2b33") == [1, 2, 33]
assert numbers_in("-5 and 6.5") == [5, 6, 5]
''')

# ---------------------------------------------------------------- numbers, money, units

task(r'''def nonzero_digit_product(n: int) -> int:
    """Multiply together the non-zero decimal digits of abs(n).

    If there are no non-zero digits (n == 0) the result is 1.

    >>> nonzero_digit_product(2045)
    40
    """
''', r'''
    product = 1
    for ch in str(abs(n)):
        if ch != "0":
            product *= int(ch)
    return product
''', r'''
assert nonzero_digit_product(0) == 1
assert nonzero_digit_product(7) == 7
assert nonzero_digit_product(-123) == 6
assert nonzero_digit_product(1000) == 1
assert nonzero_digit_product(999) == 729
''')

task(r'''def triangular(n: int) -> int:
    """Return the n-th triangular number, the sum 1 + 2 + ... + n (0 when n <= 0).

    >>> triangular(4)
    10
    """
''', r'''
    return n * (n + 1) // 2 if n > 0 else 0
''', r'''
assert triangular(0) == 0
assert triangular(1) == 1
assert triangular(100) == 5050
assert triangular(-3) == 0
''')

task(r'''def gcd_of_list(numbers: list) -> int:
    """Greatest common divisor of a list of non-negative integers (0 for an empty list).

    >>> gcd_of_list([12, 18, 30])
    6
    """
''', r'''
    result = 0
    for n in numbers:
        while n:
            result, n = n, result % n
    return result
''', r'''
assert gcd_of_list([]) == 0
assert gcd_of_list([7]) == 7
assert gcd_of_list([0, 9]) == 9
assert gcd_of_list([8, 27]) == 1
assert gcd_of_list([100, 75, 50]) == 25
''')

task(r'''def divisor_count(n: int) -> int:
    """Number of positive divisors of a positive integer n.

    >>> divisor_count(12)
    6
    """
''', r'''
    count = 0
    d = 1
    while d * d <= n:
        if n % d == 0:
            count += 1 if d * d == n else 2
        d += 1
    return count
''', r'''
assert divisor_count(1) == 1
assert divisor_count(7) == 2
assert divisor_count(36) == 9
assert divisor_count(100) == 9
''')

task(r'''def is_square(n: int) -> bool:
    """Return True when n is a perfect square (0, 1, 4, 9, ...). Negative numbers are not.

    >>> is_square(49)
    True
    >>> is_square(50)
    False
    """
''', r'''
    if n < 0:
        return False
    root = int(n ** 0.5)
    while root * root > n:
        root -= 1
    while (root + 1) * (root + 1) <= n:
        root += 1
    return root * root == n
''', r'''
assert is_square(0) is True
assert is_square(-4) is False
assert is_square(1) is True
assert is_square(10 ** 12) is True
assert is_square(10 ** 12 + 1) is False
assert is_square(2) is False
''')

task(r'''def smallest_factor(n: int) -> int:
    """Smallest prime factor of an integer n >= 2.

    >>> smallest_factor(91)
    7
    >>> smallest_factor(13)
    13
    """
''', r'''
    d = 2
    while d * d <= n:
        if n % d == 0:
            return d
        d += 1
    return n
''', r'''
assert smallest_factor(2) == 2
assert smallest_factor(4) == 2
assert smallest_factor(15) == 3
assert smallest_factor(97) == 97
assert smallest_factor(221) == 13
''')

task(r'''def next_prime(n: int) -> int:
    """Return the smallest prime number strictly greater than n.

    >>> next_prime(10)
    11
    >>> next_prime(13)
    17
    """
''', r'''
    candidate = max(n + 1, 2)
    while True:
        if all(candidate % d for d in range(2, int(candidate ** 0.5) + 1)):
            return candidate
        candidate += 1
''', r'''
assert next_prime(0) == 2
assert next_prime(-7) == 2
assert next_prime(2) == 3
assert next_prime(89) == 97
assert next_prime(1) == 2
''')

task(r'''def padded_binary(n: int, width: int) -> str:
    """Binary digits of a non-negative n, left-padded with zeros to at least width digits.

    >>> padded_binary(5, 8)
    '00000101'
    >>> padded_binary(9, 2)
    '1001'
    """
''', r'''
    return bin(n)[2:].zfill(width)
''', r'''
assert padded_binary(0, 1) == "0"
assert padded_binary(0, 4) == "0000"
assert padded_binary(255, 8) == "11111111"
assert padded_binary(1, 0) == "1"
''')

task(r'''def parity_bit(n: int) -> int:
    """Even-parity bit for a non-negative n: 1 if n has an odd number of 1 bits, else 0.

    >>> parity_bit(7)
    1
    >>> parity_bit(5)
    0
    """
''', r'''
    return bin(n).count("1") % 2
''', r'''
assert parity_bit(0) == 0
assert parity_bit(1) == 1
assert parity_bit(3) == 0
assert parity_bit(255) == 0
assert parity_bit(256) == 1
''')

task(r'''def digit_count(n: int) -> int:
    """Number of decimal digits in the integer n (the sign does not count; 0 has one digit).

    >>> digit_count(-4096)
    4
    """
''', r'''
    return len(str(abs(n)))
''', r'''
assert digit_count(0) == 1
assert digit_count(9) == 1
assert digit_count(10) == 2
assert digit_count(10 ** 20) == 21
''')

task(r'''def alternating_sum(values: list) -> int:
    """Compute values[0] - values[1] + values[2] - values[3] + ... (0 for an empty list).

    >>> alternating_sum([10, 3, 4, 1])
    10
    """
''', r'''
    return sum(v if i % 2 == 0 else -v for i, v in enumerate(values))
''', r'''
assert alternating_sum([]) == 0
assert alternating_sum([5]) == 5
assert alternating_sum([1, 1, 1, 1]) == 0
assert alternating_sum([-2, -3]) == 1
''')

task(r'''def lucas(n: int) -> int:
    """Return the n-th Lucas number: L(0) = 2, L(1) = 1, and L(n) = L(n-1) + L(n-2).

    >>> lucas(5)
    11
    """
''', r'''
    a, b = 2, 1
    for _ in range(n):
        a, b = b, a + b
    return a
''', r'''
assert lucas(0) == 2
assert lucas(1) == 1
assert lucas(2) == 3
assert lucas(10) == 123
''')

task(r'''def trim_zeros(digits: str) -> str:
    """Remove leading zeros from a non-empty string of digits, keeping a single '0' if nothing else remains.

    >>> trim_zeros("000120")
    '120'
    >>> trim_zeros("0000")
    '0'
    """
''', r'''
    trimmed = digits.lstrip("0")
    return trimmed if trimmed else "0"
''', r'''
assert trim_zeros("0") == "0"
assert trim_zeros("7") == "7"
assert trim_zeros("100") == "100"
assert trim_zeros("0010") == "10"
''')

task(r'''def with_commas(n: int) -> str:
    """Write an integer with commas between groups of three digits.

    >>> with_commas(1234567)
    '1,234,567'
    >>> with_commas(-9876)
    '-9,876'
    """
''', r'''
    return f"{n:,}"
''', r'''
assert with_commas(0) == "0"
assert with_commas(999) == "999"
assert with_commas(1000) == "1,000"
assert with_commas(-100000) == "-100,000"
''')

task(r'''def price_to_cents(price: str) -> int:
    """Parse a price like '$1,234.50', '$7' or '12.3' into an integer number of cents.

    The '$' sign and commas are optional; at most two decimals are given.

    >>> price_to_cents("$1,234.50")
    123450
    """
''', r'''
    text = price.replace("$", "").replace(",", "").strip()
    if "." in text:
        whole, frac = text.split(".")
        frac = (frac + "00")[:2]
    else:
        whole, frac = text, "00"
    return int(whole or "0") * 100 + int(frac)
''', r'''
assert price_to_cents("$7") == 700
assert price_to_cents("$0.05") == 5
assert price_to_cents("$.5") == 50
assert price_to_cents("$1,000,000.99") == 100000099
assert price_to_cents("12.3") == 1230
''')

task(r'''def cents_to_price(cents: int) -> str:
    """Format a non-negative number of cents as dollars, like '$1,234.50'.

    >>> cents_to_price(123450)
    '$1,234.50'
    >>> cents_to_price(5)
    '$0.05'
    """
''', r'''
    dollars, rest = divmod(cents, 100)
    return f"${dollars:,}.{rest:02d}"
''', r'''
assert cents_to_price(0) == "$0.00"
assert cents_to_price(100) == "$1.00"
assert cents_to_price(99999) == "$999.99"
assert cents_to_price(100000000) == "$1,000,000.00"
''')

task(r'''def nearest_multiple(n: int, step: int) -> int:
    """Round the integer n to the nearest multiple of the positive integer step.

    Exact ties (n halfway between two multiples) round up, towards positive infinity.

    >>> nearest_multiple(12, 5)
    10
    >>> nearest_multiple(15, 10)
    20
    """
''', r'''
    return (n + step // 2) // step * step
''', r'''
assert nearest_multiple(0, 7) == 0
assert nearest_multiple(3, 7) == 0
assert nearest_multiple(4, 7) == 7
assert nearest_multiple(-15, 10) == -10
assert nearest_multiple(-16, 10) == -20
assert nearest_multiple(100, 1) == 100
''')

task(r'''def as_percent(part: float, whole: float) -> str:
    """part / whole as a percentage string with one decimal, e.g. '25.0%'; 'n/a' when whole is 0.

    >>> as_percent(1, 4)
    '25.0%'
    """
''', r'''
    if whole == 0:
        return "n/a"
    return f"{part / whole * 100:.1f}%"
''', r'''
assert as_percent(0, 5) == "0.0%"
assert as_percent(3, 0) == "n/a"
assert as_percent(1, 3) == "33.3%"
assert as_percent(5, 4) == "125.0%"
''')

task(r'''def lerp(start: float, end: float, t: float) -> float:
    """Linear interpolation: start when t is 0, end when t is 1, proportionally in between.

    t outside [0, 1] extrapolates along the same line.

    >>> lerp(10, 20, 0.25)
    12.5
    """
''', r'''
    return start + (end - start) * t
''', r'''
assert lerp(0, 10, 0) == 0
assert lerp(0, 10, 1) == 10
assert lerp(5, -5, 0.5) == 0
assert lerp(1, 3, 2) == 5
''')

task(r'''def to_fahrenheit(celsius: float) -> float:
    """Convert a Celsius temperature to Fahrenheit, rounded to one decimal place.

    >>> to_fahrenheit(100)
    212.0
    >>> to_fahrenheit(-40)
    -40.0
    """
''', r'''
    return round(celsius * 9 / 5 + 32, 1)
''', r'''
assert to_fahrenheit(0) == 32.0
assert to_fahrenheit(37) == 98.6
assert to_fahrenheit(-17.5) == 0.5
assert to_fahrenheit(21.3) == 70.3
''')

task(r'''def percent_change(old: float, new: float):
    """Percentage change from old to new, (new - old) / old * 100, rounded to 1 decimal place.

    Return None when old is zero.

    >>> percent_change(80, 100)
    25.0
    >>> percent_change(50, 45)
    -10.0
    """
''', r'''
    if old == 0:
        return None
    return round((new - old) / old * 100, 1)
''', r'''
assert percent_change(0, 5) is None
assert percent_change(10, 10) == 0.0
assert percent_change(3, 4) == 33.3
assert percent_change(200, 0) == -100.0
''')

task(r'''def grow_savings(principal: float, rate: float, years: int) -> float:
    """Balance after compounding principal once a year at rate (0.05 means 5%), rounded to cents.

    >>> grow_savings(1000, 0.05, 2)
    1102.5
    """
''', r'''
    balance = principal
    for _ in range(years):
        balance *= 1 + rate
    return round(balance, 2)
''', r'''
assert grow_savings(100, 0.1, 0) == 100
assert grow_savings(0, 0.5, 10) == 0
assert grow_savings(100, 0.1, 1) == 110.0
assert grow_savings(200, 0.0, 5) == 200
assert grow_savings(1000, 0.03, 3) == 1092.73
''')

task(r'''def split_cents(total: int, people: int) -> list:
    """Split an amount of cents among people as evenly as possible.

    Every share is an integer, the shares add up to total, and leftover cents go one
    each to the first people in the list.

    >>> split_cents(1000, 3)
    [334, 333, 333]
    """
''', r'''
    base, extra = divmod(total, people)
    return [base + 1 if i < extra else base for i in range(people)]
''', r'''
assert split_cents(0, 2) == [0, 0]
assert split_cents(5, 1) == [5]
assert split_cents(7, 7) == [1] * 7
assert split_cents(3, 5) == [1, 1, 1, 0, 0]
assert split_cents(1001, 4) == [251, 250, 250, 250]
''')

task(r'''def greedy_change(amount: int, coins: list) -> dict:
    """Make change greedily: repeatedly use the largest coin that still fits.

    Return a dict mapping each coin used to how many times it was used; unused coins are
    left out. Assume the greedy process always reaches exactly 0.

    >>> greedy_change(68, [1, 5, 10, 25])
    {25: 2, 10: 1, 5: 1, 1: 3}
    """
''', r'''
    used = {}
    for coin in sorted(coins, reverse=True):
        count, amount = divmod(amount, coin)
        if count:
            used[coin] = count
    return used
''', r'''
assert greedy_change(0, [1, 2]) == {}
assert greedy_change(10, [10]) == {10: 1}
assert greedy_change(7, [2, 1, 5]) == {5: 1, 2: 1}
assert greedy_change(99, [50, 20, 1]) == {50: 1, 20: 2, 1: 9}
''')

task(r'''def progressive_tax(income: float, brackets: list) -> float:
    """Tax owed on income under progressive brackets.

    Args:
        income: a non-negative amount.
        brackets: (upper_limit, rate) pairs sorted by upper_limit. The slice of income
            between the previous limit (starting at 0) and upper_limit is taxed at rate.
            The last bracket has upper_limit None, meaning no limit.

    Returns:
        The total tax, rounded to 2 decimals.

    >>> progressive_tax(50000, [(10000, 0.0), (40000, 0.2), (None, 0.4)])
    10000.0
    """
''', r'''
    tax = 0.0
    lower = 0
    for upper, rate in brackets:
        if upper is None or income <= upper:
            tax += (income - lower) * rate
            break
        tax += (upper - lower) * rate
        lower = upper
    return round(tax, 2)
''', r'''
assert progressive_tax(0, [(None, 0.3)]) == 0
assert progressive_tax(5000, [(10000, 0.1), (None, 0.5)]) == 500.0
assert progressive_tax(10000, [(10000, 0.1), (None, 0.5)]) == 1000.0
assert progressive_tax(12000, [(10000, 0.1), (None, 0.5)]) == 2000.0
assert progressive_tax(100, [(None, 0.25)]) == 25.0
''')

task(r'''def cart_total(prices: dict, cart: dict) -> float:
    """Total cost of a shopping cart.

    Args:
        prices: item name -> unit price.
        cart: item name -> quantity. Items missing from prices are ignored.

    Returns:
        The total, rounded to 2 decimals.

    >>> cart_total({"apple": 0.5, "pear": 0.75}, {"apple": 4, "pear": 2})
    3.5
    """
''', r'''
    return round(sum(prices[item] * qty for item, qty in cart.items() if item in prices), 2)
''', r'''
assert cart_total({}, {}) == 0
assert cart_total({"a": 1.25}, {"a": 3, "b": 10}) == 3.75
assert cart_total({"a": 2.0}, {}) == 0
assert cart_total({"x": 0.1, "y": 0.2}, {"x": 1, "y": 1}) == 0.3
''')

task(r'''def apply_transactions(balance: int, entries: list) -> int:
    """Apply ledger entries like '+50' or '-20' to a starting balance and return the result.

    Entries that do not start with '+' or '-' are ignored.

    >>> apply_transactions(100, ["+50", "-30", "oops"])
    120
    """
''', r'''
    for entry in entries:
        if entry[:1] == "+":
            balance += int(entry[1:])
        elif entry[:1] == "-":
            balance -= int(entry[1:])
    return balance
''', r'''
assert apply_transactions(0, []) == 0
assert apply_transactions(10, ["-10"]) == 0
assert apply_transactions(5, ["", "+1", "+1"]) == 7
assert apply_transactions(0, ["-5", "-5"]) == -10
''')

task(r'''def human_size(num_bytes: int) -> str:
    """Describe a byte count using KB, MB, GB or TB (powers of 1024) with one decimal.

    Counts below 1024 are written as whole bytes, like '512 B'. Use the largest unit
    that keeps the number below 1024, but never go beyond TB.

    >>> human_size(512)
    '512 B'
    >>> human_size(1536)
    '1.5 KB'
    >>> human_size(5 * 1024 ** 3)
    '5.0 GB'
    """
''', r'''
    if num_bytes < 1024:
        return f"{num_bytes} B"
    value = float(num_bytes)
    for unit in ["KB", "MB", "GB", "TB"]:
        value /= 1024
        if value < 1024 or unit == "TB":
            return f"{value:.1f} {unit}"
''', r'''
assert human_size(0) == "0 B"
assert human_size(1023) == "1023 B"
assert human_size(1024) == "1.0 KB"
assert human_size(1024 ** 2) == "1.0 MB"
assert human_size(3 * 1024 ** 5) == "3072.0 TB"
''')

task(r'''def size_to_bytes(size: str) -> int:
    """Parse sizes like '10KB', '3 MB' or '512B' into a number of bytes.

    Units are B, KB, MB and GB with 1 KB = 1024 B. The unit is case-insensitive and may be
    separated from the number by spaces.

    >>> size_to_bytes("10KB")
    10240
    >>> size_to_bytes("2 mb")
    2097152
    """
''', r'''
    text = size.strip().upper()
    units = {"KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "B": 1}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(text[:-len(unit)].strip()) * factor
    return int(text)
''', r'''
assert size_to_bytes("0B") == 0
assert size_to_bytes("512B") == 512
assert size_to_bytes("1 GB") == 1073741824
assert size_to_bytes("  7 kb ") == 7168
assert size_to_bytes("3MB") == 3145728
''')

task(r'''def hex_to_rgb(color: str) -> tuple:
    """Convert a '#RRGGBB' color to an (r, g, b) tuple of ints.

    >>> hex_to_rgb("#ff8000")
    (255, 128, 0)
    """
''', r'''
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
''', r'''
assert hex_to_rgb("#000000") == (0, 0, 0)
assert hex_to_rgb("#FFFFFF") == (255, 255, 255)
assert hex_to_rgb("#0a0B0c") == (10, 11, 12)
assert hex_to_rgb("#123456") == (18, 52, 86)
''')

task(r'''def rgb_to_hex(red: int, green: int, blue: int) -> str:
    """Format color channels as '#rrggbb' in lowercase; values outside 0-255 are clamped first.

    >>> rgb_to_hex(255, 128, 0)
    '#ff8000'
    """
''', r'''
    channels = [min(255, max(0, c)) for c in (red, green, blue)]
    return "#" + "".join(f"{c:02x}" for c in channels)
''', r'''
assert rgb_to_hex(0, 0, 0) == "#000000"
assert rgb_to_hex(300, -5, 16) == "#ff0010"
assert rgb_to_hex(1, 2, 3) == "#010203"
assert rgb_to_hex(171, 205, 239) == "#abcdef"
''')

task(r'''def ipv4_to_int(address: str) -> int:
    """Convert a dotted IPv4 address such as '10.0.0.1' to its 32-bit integer value.

    >>> ipv4_to_int("10.0.0.1")
    167772161
    """
''', r'''
    value = 0
    for part in address.split("."):
        value = value * 256 + int(part)
    return value
''', r'''
assert ipv4_to_int("0.0.0.0") == 0
assert ipv4_to_int("255.255.255.255") == 4294967295
assert ipv4_to_int("1.2.3.4") == 16909060
assert ipv4_to_int("192.168.1.1") == 3232235777
''')

task(r'''def format_mac(raw: str) -> str:
    """Format 12 hex digits as a lowercase MAC address with colons between byte pairs.

    >>> format_mac("A1B2C3D4E5F6")
    'a1:b2:c3:d4:e5:f6'
    """
''', r'''
    raw = raw.lower()
    return ":".join(raw[i:i + 2] for i in range(0, 12, 2))
''', r'''
assert format_mac("000000000000") == "00:00:00:00:00:00"
assert format_mac("ffffffffffff") == "ff:ff:ff:ff:ff:ff"
assert format_mac("0123456789ab") == "01:23:45:67:89:ab"
assert format_mac("DeadBeef0001") == "de:ad:be:ef:00:01"
''')

task(r'''def digits_only(phone: str) -> str:
    """Keep only the digits of a phone number written with spaces, dashes, dots or parentheses.

    >>> digits_only("(555) 123-4567")
    '5551234567'
    """
''', r'''
    return "".join(ch for ch in phone if ch in "0123456789")
''', r'''
assert digits_only("") == ""
assert digits_only("555.0100") == "5550100"
assert digits_only("+1 (800) FLOWERS") == "1800"
assert digits_only("0") == "0"
''')

task(r'''def pretty_phone(digits: str) -> str:
    """Format a 10-digit string as '(AAA) BBB-CCCC'.

    >>> pretty_phone("5551234567")
    '(555) 123-4567'
    """
''', r'''
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
''', r'''
assert pretty_phone("0000000000") == "(000) 000-0000"
assert pretty_phone("1234567890") == "(123) 456-7890"
assert pretty_phone("9998887777") == "(999) 888-7777"
assert pretty_phone("2125550199") == "(212) 555-0199"
''')

task(r'''def seat_label(row: int, seat: int) -> str:
    """Aircraft-style seat label: the row number followed by a letter, seat 1 being 'A'.

    >>> seat_label(12, 3)
    '12C'
    """
''', r'''
    return f"{row}{chr(ord('A') + seat - 1)}"
''', r'''
assert seat_label(1, 1) == "1A"
assert seat_label(30, 6) == "30F"
assert seat_label(7, 26) == "7Z"
assert seat_label(100, 2) == "100B"
''')

task(r'''def running_pace(seconds: int, km: float) -> str:
    """Average pace as 'M:SS' per kilometre, rounded to the nearest whole second.

    >>> running_pace(1650, 5)
    '5:30'
    """
''', r'''
    per_km = round(seconds / km)
    minutes, secs = divmod(per_km, 60)
    return f"{minutes}:{secs:02d}"
''', r'''
assert running_pace(300, 1) == "5:00"
assert running_pace(3600, 10) == "6:00"
assert running_pace(125, 1) == "2:05"
assert running_pace(2533, 10) == "4:13"
assert running_pace(59, 1) == "0:59"
''')

task(r'''def scale_recipe(ingredients: dict, servings_from: int, servings_to: int) -> dict:
    """Scale ingredient amounts from one number of servings to another, rounding to 2 decimals.

    >>> scale_recipe({"flour": 200, "eggs": 2}, 4, 6)
    {'flour': 300.0, 'eggs': 3.0}
    """
''', r'''
    factor = servings_to / servings_from
    return {name: round(amount * factor, 2) for name, amount in ingredients.items()}
''', r'''
assert scale_recipe({}, 2, 4) == {}
assert scale_recipe({"salt": 1}, 3, 1) == {"salt": 0.33}
assert scale_recipe({"milk": 0.5}, 1, 3) == {"milk": 1.5}
assert scale_recipe({"x": 10}, 5, 5) == {"x": 10.0}
''')

task(r'''def calculate(expression: str):
    """Evaluate 'A op B', where A and B are integers and op is one of + - * /, separated by single spaces.

    Division returns a float; the other operators return ints.

    >>> calculate("6 * 7")
    42
    >>> calculate("7 / 2")
    3.5
    """
''', r'''
    left, op, right = expression.split()
    a, b = int(left), int(right)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a / b
''', r'''
assert calculate("1 + 1") == 2
assert calculate("-3 - 4") == -7
assert calculate("0 * 99") == 0
assert calculate("9 / 3") == 3.0
assert isinstance(calculate("2 + 2"), int)
''')

task(r'''def apply_ops(start: int, commands: list) -> int:
    """Run simple commands on a number: 'add N', 'sub N', 'mul N' or 'neg'.

    >>> apply_ops(2, ["add 3", "mul 4", "neg"])
    -20
    """
''', r'''
    value = start
    for command in commands:
        parts = command.split()
        if parts[0] == "add":
            value += int(parts[1])
        elif parts[0] == "sub":
            value -= int(parts[1])
        elif parts[0] == "mul":
            value *= int(parts[1])
        elif parts[0] == "neg":
            value = -value
    return value
''', r'''
assert apply_ops(5, []) == 5
assert apply_ops(0, ["sub 7"]) == -7
assert apply_ops(3, ["neg", "neg"]) == 3
assert apply_ops(1, ["mul 0", "add 9", "sub -1"]) == 10
''')

# ---------------------------------------------------------------- dates and clocks

task(r'''def clock_string(seconds: int) -> str:
    """Format a number of seconds (0 <= seconds < 360000) as 'HH:MM:SS' with zero padding.

    >>> clock_string(3725)
    '01:02:05'
    """
''', r'''
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"
''', r'''
assert clock_string(0) == "00:00:00"
assert clock_string(59) == "00:00:59"
assert clock_string(86399) == "23:59:59"
assert clock_string(360000 - 1) == "99:59:59"
''')

task(r'''def minutes_of_day(clock: str) -> int:
    """Convert a 24-hour 'HH:MM' time into minutes since midnight.

    >>> minutes_of_day("07:45")
    465
    """
''', r'''
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)
''', r'''
assert minutes_of_day("00:00") == 0
assert minutes_of_day("23:59") == 1439
assert minutes_of_day("12:00") == 720
assert minutes_of_day("9:05") == 545
''')

task(r'''def minutes_until(start: str, end: str) -> int:
    """Minutes from start to end, both 'HH:MM' on a 24-hour clock.

    If end is earlier than start, end is on the following day. Equal times give 0.

    >>> minutes_until("09:15", "10:05")
    50
    >>> minutes_until("23:30", "00:10")
    40
    """
''', r'''
    def to_min(t):
        h, m = t.split(":")
        return int(h) * 60 + int(m)
    return (to_min(end) - to_min(start)) % (24 * 60)
''', r'''
assert minutes_until("12:00", "12:00") == 0
assert minutes_until("00:00", "23:59") == 1439
assert minutes_until("00:01", "00:00") == 1439
assert minutes_until("06:30", "18:45") == 735
''')

task(r'''def add_minutes(clock: str, minutes: int) -> str:
    """Add minutes (possibly negative) to a 24-hour 'HH:MM' time, wrapping around midnight.

    >>> add_minutes("23:30", 45)
    '00:15'
    """
''', r'''
    h, m = clock.split(":")
    total = (int(h) * 60 + int(m) + minutes) % 1440
    return f"{total // 60:02d}:{total % 60:02d}"
''', r'''
assert add_minutes("00:00", 0) == "00:00"
assert add_minutes("10:15", -30) == "09:45"
assert add_minutes("12:00", 1440) == "12:00"
assert add_minutes("08:05", 125) == "10:10"
''')

task(r'''def to_12_hour(clock: str) -> str:
    """Convert a 24-hour 'HH:MM' time to 12-hour form like '1:05 PM' (no leading zero on the hour).

    >>> to_12_hour("13:05")
    '1:05 PM'
    >>> to_12_hour("00:30")
    '12:30 AM'
    """
''', r'''
    h, m = clock.split(":")
    hour = int(h)
    suffix = "AM" if hour < 12 else "PM"
    hour = hour % 12 or 12
    return f"{hour}:{m} {suffix}"
''', r'''
assert to_12_hour("12:00") == "12:00 PM"
assert to_12_hour("11:59") == "11:59 AM"
assert to_12_hour("23:59") == "11:59 PM"
assert to_12_hour("09:07") == "9:07 AM"
''')

task(r'''def days_in_month(year: int, month: int) -> int:
    """Number of days in the given month (1-12) of the given Gregorian year.

    >>> days_in_month(2024, 2)
    29
    >>> days_in_month(2023, 4)
    30
    """
''', r'''
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31
''', r'''
assert days_in_month(1900, 2) == 28
assert days_in_month(2000, 2) == 29
assert days_in_month(2023, 12) == 31
assert days_in_month(2023, 1) == 31
assert days_in_month(2021, 9) == 30
''')

task(r'''def age_on(birth: tuple, today: tuple) -> int:
    """Age in whole years on the date today of someone born on the date birth.

    Dates are (year, month, day) tuples.

    >>> age_on((2000, 5, 20), (2024, 5, 19))
    23
    >>> age_on((2000, 5, 20), (2024, 5, 20))
    24
    """
''', r'''
    years = today[0] - birth[0]
    if (today[1], today[2]) < (birth[1], birth[2]):
        years -= 1
    return years
''', r'''
assert age_on((2020, 1, 1), (2020, 1, 1)) == 0
assert age_on((1990, 12, 31), (2000, 1, 1)) == 9
assert age_on((1990, 1, 1), (2000, 12, 31)) == 10
assert age_on((2004, 2, 29), (2005, 2, 28)) == 0
''')

task(r'''def weekday_after(day: str, offset: int) -> str:
    """Three-letter weekday name (Mon, Tue, ..., Sun) that is offset days after day.

    offset may be negative.

    >>> weekday_after("Mon", 3)
    'Thu'
    >>> weekday_after("Sun", 1)
    'Mon'
    """
''', r'''
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    return days[(days.index(day) + offset) % 7]
''', r'''
assert weekday_after("Wed", 0) == "Wed"
assert weekday_after("Tue", -2) == "Sun"
assert weekday_after("Fri", 14) == "Fri"
assert weekday_after("Sat", 100) == "Mon"
''')

task(r'''def duration_to_minutes(text: str) -> int:
    """Parse a duration such as '2h15m', '45m' or '3h' into whole minutes.

    >>> duration_to_minutes("2h15m")
    135
    >>> duration_to_minutes("45m")
    45
    """
''', r'''
    total = 0
    number = ""
    for ch in text:
        if ch.isdigit():
            number += ch
        elif ch == "h":
            total += int(number) * 60
            number = ""
        elif ch == "m":
            total += int(number)
            number = ""
    return total
''', r'''
assert duration_to_minutes("") == 0
assert duration_to_minutes("3h") == 180
assert duration_to_minutes("0h0m") == 0
assert duration_to_minutes("1h90m") == 150
assert duration_to_minutes("10m") == 10
''')

task(r'''def busiest_hour(times: list) -> int:
    """Given 'HH:MM' timestamps, return the hour (0-23) with the most events.

    Ties go to the earlier hour. Return -1 when times is empty.

    >>> busiest_hour(["09:15", "10:01", "09:59", "23:00"])
    9
    """
''', r'''
    if not times:
        return -1
    counts = [0] * 24
    for t in times:
        counts[int(t.split(":")[0])] += 1
    return counts.index(max(counts))
''', r'''
assert busiest_hour([]) == -1
assert busiest_hour(["00:00"]) == 0
assert busiest_hour(["13:00", "12:59"]) == 12
assert busiest_hour(["05:00", "07:00", "07:30", "05:10", "07:45"]) == 7
''')

task(r'''def first_frost(temps: list) -> int:
    """Index of the first temperature reading at or below 0 degrees, or -1 if there is none.

    >>> first_frost([5.5, 2.0, -0.5, -3.0])
    2
    """
''', r'''
    for i, t in enumerate(temps):
        if t <= 0:
            return i
    return -1
''', r'''
assert first_frost([]) == -1
assert first_frost([1, 2]) == -1
assert first_frost([0]) == 0
assert first_frost([3, 0.1, 0.0]) == 2
''')

task(r'''def warmest_day(readings: dict) -> str:
    """Return the day with the highest average temperature.

    readings maps a day name to a non-empty list of temperatures. Ties go to the day
    that comes first in the dict.

    >>> warmest_day({"mon": [10, 14], "tue": [13, 13], "wed": [9]})
    'tue'
    """
''', r'''
    best = None
    best_avg = None
    for day, temps in readings.items():
        avg = sum(temps) / len(temps)
        if best is None or avg > best_avg:
            best, best_avg = day, avg
    return best
''', r'''
assert warmest_day({"a": [1]}) == "a"
assert warmest_day({"a": [1, 3], "b": [2]}) == "a"
assert warmest_day({"x": [-5, -5], "y": [-4, -6], "z": [-1]}) == "z"
assert warmest_day({"p": [0, 10], "q": [6]}) == "q"
''')

task(r'''def longest_dry_spell(rainfall: list) -> int:
    """Length of the longest run of consecutive days with zero rainfall.

    rainfall holds one non-negative measurement per day.

    >>> longest_dry_spell([0, 0, 1.5, 0, 0, 0, 2])
    3
    """
''', r'''
    best = current = 0
    for amount in rainfall:
        current = current + 1 if amount == 0 else 0
        best = max(best, current)
    return best
''', r'''
assert longest_dry_spell([]) == 0
assert longest_dry_spell([1, 2, 3]) == 0
assert longest_dry_spell([0]) == 1
assert longest_dry_spell([0, 0, 0, 0]) == 4
assert longest_dry_spell([0, 1, 0, 0, 1, 0]) == 2
''')

# ---------------------------------------------------------------- lists

task(r'''def rotate_left(items: list, k: int) -> list:
    """Return a new list with items rotated k positions to the left.

    k may be larger than the length of the list, or negative (which rotates right).

    >>> rotate_left([1, 2, 3, 4, 5], 2)
    [3, 4, 5, 1, 2]
    """
''', r'''
    if not items:
        return []
    k %= len(items)
    return items[k:] + items[:k]
''', r'''
assert rotate_left([], 3) == []
assert rotate_left([1, 2, 3], 0) == [1, 2, 3]
assert rotate_left([1, 2, 3], 4) == [2, 3, 1]
assert rotate_left([1, 2, 3], -1) == [3, 1, 2]
assert rotate_left(["a"], 7) == ["a"]
''')

task(r'''def chunked(items: list, size: int) -> list:
    """Split items into consecutive chunks of length size; the last chunk may be shorter.

    >>> chunked([1, 2, 3, 4, 5], 2)
    [[1, 2], [3, 4], [5]]
    """
''', r'''
    return [items[i:i + size] for i in range(0, len(items), size)]
''', r'''
assert chunked([], 3) == []
assert chunked([1, 2, 3], 3) == [[1, 2, 3]]
assert chunked([1, 2, 3], 5) == [[1, 2, 3]]
assert chunked(["a", "b", "c", "d"], 1) == [["a"], ["b"], ["c"], ["d"]]
''')

task(r'''def flatten_once(nested: list) -> list:
    """Flatten one level of nesting: elements that are lists are spliced in, other elements are kept.

    >>> flatten_once([1, [2, 3], [[4]], 5])
    [1, 2, 3, [4], 5]
    """
''', r'''
    flat = []
    for item in nested:
        if isinstance(item, list):
            flat.extend(item)
        else:
            flat.append(item)
    return flat
''', r'''
assert flatten_once([]) == []
assert flatten_once([[], []]) == []
assert flatten_once([[1], 2, [3, [4, 5]]]) == [1, 2, 3, [4, 5]]
assert flatten_once(["ab", ["c"]]) == ["ab", "c"]
''')

task(r'''def prefix_means(values: list) -> list:
    """For each position i, the mean of values[0..i] inclusive, rounded to 2 decimals.

    >>> prefix_means([2, 4, 9])
    [2.0, 3.0, 5.0]
    """
''', r'''
    means = []
    total = 0
    for i, v in enumerate(values, start=1):
        total += v
        means.append(round(total / i, 2))
    return means
''', r'''
assert prefix_means([]) == []
assert prefix_means([5]) == [5.0]
assert prefix_means([1, 2]) == [1.0, 1.5]
assert prefix_means([1, 1, 2]) == [1.0, 1.0, 1.33]
assert prefix_means([-3, 3]) == [-3.0, 0.0]
''')

task(r'''def steps_between(values: list) -> list:
    """Return the differences between neighbouring values (each value minus the one before it).

    >>> steps_between([3, 7, 4, 4])
    [4, -3, 0]
    """
''', r'''
    return [b - a for a, b in zip(values, values[1:])]
''', r'''
assert steps_between([]) == []
assert steps_between([10]) == []
assert steps_between([1, 2]) == [1]
assert steps_between([5, 0, -5]) == [-5, -5]
''')

task(r'''def drop_repeats(items: list) -> list:
    """Return items with later duplicates removed, keeping the first occurrence of each value.

    >>> drop_repeats([3, 1, 3, 2, 1])
    [3, 1, 2]
    """
''', r'''
    seen = set()
    result = []
    for item in items:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result
''', r'''
assert drop_repeats([]) == []
assert drop_repeats([1, 1, 1]) == [1]
assert drop_repeats(["b", "a", "b"]) == ["b", "a"]
assert drop_repeats([1, 2, 3]) == [1, 2, 3]
''')

task(r'''def positions_of(items: list, target) -> list:
    """Return every index at which target occurs in items.

    >>> positions_of(["a", "b", "a"], "a")
    [0, 2]
    """
''', r'''
    return [i for i, item in enumerate(items) if item == target]
''', r'''
assert positions_of([], 1) == []
assert positions_of([1, 2, 3], 4) == []
assert positions_of([7, 7, 7], 7) == [0, 1, 2]
assert positions_of([None, 0, None], None) == [0, 2]
''')

task(r'''def last_index(items: list, target) -> int:
    """Index of the last occurrence of target in items, or -1 if it does not occur.

    >>> last_index([1, 2, 1, 3], 1)
    2
    """
''', r'''
    for i in range(len(items) - 1, -1, -1):
        if items[i] == target:
            return i
    return -1
''', r'''
assert last_index([], 0) == -1
assert last_index([5], 5) == 0
assert last_index([1, 2, 3], 9) == -1
assert last_index(["a", "a", "a"], "a") == 2
''')

task(r'''def split_parity(numbers: list) -> tuple:
    """Split integers into a tuple (evens, odds), each list keeping the original order.

    >>> split_parity([1, 2, 3, 4, 6])
    ([2, 4, 6], [1, 3])
    """
''', r'''
    evens = [n for n in numbers if n % 2 == 0]
    odds = [n for n in numbers if n % 2 != 0]
    return (evens, odds)
''', r'''
assert split_parity([]) == ([], [])
assert split_parity([0]) == ([0], [])
assert split_parity([-3, -2]) == ([-2], [-3])
assert split_parity([5, 7]) == ([], [5, 7])
''')

task(r'''def clamp_all(values: list, low: float, high: float) -> list:
    """Limit every value to the closed interval [low, high].

    >>> clamp_all([-5, 3, 12], 0, 10)
    [0, 3, 10]
    """
''', r'''
    return [min(max(v, low), high) for v in values]
''', r'''
assert clamp_all([], 0, 1) == []
assert clamp_all([0.5], 0, 1) == [0.5]
assert clamp_all([1, 2, 3], 2, 2) == [2, 2, 2]
assert clamp_all([-1, 11], 0, 10) == [0, 10]
''')

task(r'''def count_between(values: list, low: int, high: int) -> int:
    """How many values v satisfy low <= v <= high.

    >>> count_between([1, 5, 10, 15], 5, 10)
    2
    """
''', r'''
    return sum(1 for v in values if low <= v <= high)
''', r'''
assert count_between([], 0, 100) == 0
assert count_between([1, 2, 3], 3, 1) == 0
assert count_between([4, 4, 4], 4, 4) == 3
assert count_between([-10, 0, 10], -10, 0) == 2
''')

task(r'''def leading_positives(values: list) -> list:
    """The longest prefix of values whose elements are all greater than zero.

    >>> leading_positives([3, 1, 0, 5])
    [3, 1]
    """
''', r'''
    prefix = []
    for v in values:
        if v <= 0:
            break
        prefix.append(v)
    return prefix
''', r'''
assert leading_positives([]) == []
assert leading_positives([-1, 2]) == []
assert leading_positives([1, 2, 3]) == [1, 2, 3]
assert leading_positives([0.5, 0.0]) == [0.5]
''')

task(r'''def pad_to(items: list, length: int, filler) -> list:
    """Return a copy of items extended with filler up to length elements.

    Lists that are already long enough are returned (as a copy) without cutting.

    >>> pad_to([1, 2], 4, 0)
    [1, 2, 0, 0]
    """
''', r'''
    return items + [filler] * (length - len(items))
''', r'''
assert pad_to([], 0, None) == []
assert pad_to([], 2, "x") == ["x", "x"]
assert pad_to([1, 2, 3], 2, 0) == [1, 2, 3]
assert pad_to([1], 1, 0) == [1]
''')

task(r'''def window_sums(values: list, width: int) -> list:
    """Sum of every contiguous window of `width` elements, from left to right.

    Return an empty list if width is larger than the list.

    >>> window_sums([1, 2, 3, 4], 2)
    [3, 5, 7]
    """
''', r'''
    return [sum(values[i:i + width]) for i in range(len(values) - width + 1)]
''', r'''
assert window_sums([], 1) == []
assert window_sums([1, 2], 3) == []
assert window_sums([5, 5, 5], 3) == [15]
assert window_sums([1, -1, 1, -1], 1) == [1, -1, 1, -1]
''')

task(r'''def adjacent_pairs(items: list) -> list:
    """List of (items[i], items[i + 1]) tuples for every neighbouring pair.

    >>> adjacent_pairs(["a", "b", "c"])
    [('a', 'b'), ('b', 'c')]
    """
''', r'''
    return list(zip(items, items[1:]))
''', r'''
assert adjacent_pairs([]) == []
assert adjacent_pairs([1]) == []
assert adjacent_pairs([1, 1]) == [(1, 1)]
assert adjacent_pairs([1, 2, 3, 4]) == [(1, 2), (2, 3), (3, 4)]
''')

task(r'''def every_nth(items: list, n: int, offset: int = 0) -> list:
    """Take every n-th element of items, starting at index offset.

    >>> every_nth([0, 1, 2, 3, 4, 5, 6], 3)
    [0, 3, 6]
    >>> every_nth([10, 20, 30, 40], 2, 1)
    [20, 40]
    """
''', r'''
    return items[offset::n]
''', r'''
assert every_nth([], 2) == []
assert every_nth([1, 2, 3], 1) == [1, 2, 3]
assert every_nth([1, 2, 3], 5) == [1]
assert every_nth([1, 2, 3], 2, 5) == []
''')

task(r'''def split_on(items: list, separator) -> list:
    """Split a list into sub-lists at each occurrence of separator, which is dropped.

    This works like str.split with a separator: n separators always give n + 1 parts.

    >>> split_on([1, 0, 2, 3, 0, 4], 0)
    [[1], [2, 3], [4]]
    """
''', r'''
    parts = [[]]
    for item in items:
        if item == separator:
            parts.append([])
        else:
            parts[-1].append(item)
    return parts
''', r'''
assert split_on([], 0) == [[]]
assert split_on([0], 0) == [[], []]
assert split_on([1, 2], 9) == [[1, 2]]
assert split_on(["a", "|", "|", "b"], "|") == [["a"], [], ["b"]]
''')

task(r'''def runs(items: list) -> list:
    """Describe items as (value, run_length) pairs, one per maximal run of equal neighbours.

    >>> runs(["a", "a", "b", "a"])
    [('a', 2), ('b', 1), ('a', 1)]
    """
''', r'''
    result = []
    for item in items:
        if result and result[-1][0] == item:
            result[-1] = (item, result[-1][1] + 1)
        else:
            result.append((item, 1))
    return result
''', r'''
assert runs([]) == []
assert runs([5]) == [(5, 1)]
assert runs([1, 1, 1]) == [(1, 3)]
assert runs([1, 2, 2, 3, 3, 3]) == [(1, 1), (2, 2), (3, 3)]
''')

task(r'''def repeated_values(items: list) -> list:
    """Sorted list of the values that appear more than once in items, each listed once.

    >>> repeated_values([3, 1, 3, 2, 1, 3])
    [1, 3]
    """
''', r'''
    counts = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return sorted(v for v, c in counts.items() if c > 1)
''', r'''
assert repeated_values([]) == []
assert repeated_values([1, 2, 3]) == []
assert repeated_values(["b", "a", "b", "a"]) == ["a", "b"]
assert repeated_values([0, 0]) == [0]
''')

task(r'''def smallest_mode(values: list) -> int:
    """Return the most frequent value; if several values are equally frequent, the smallest of them.

    values is a non-empty list of integers.

    >>> smallest_mode([4, 1, 4, 1, 3])
    1
    """
''', r'''
    counts = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    top = max(counts.values())
    return min(v for v, c in counts.items() if c == top)
''', r'''
assert smallest_mode([7]) == 7
assert smallest_mode([2, 2, 3]) == 2
assert smallest_mode([5, 4, 3]) == 3
assert smallest_mode([-1, -1, 0, 0]) == -1
''')

task(r'''def weighted_mean(values: list, weights: list) -> float:
    """Weighted arithmetic mean of values, rounded to 3 decimals. The weights sum to a positive number.

    >>> weighted_mean([1, 2, 3], [3, 0, 1])
    1.5
    """
''', r'''
    total = sum(v * w for v, w in zip(values, weights))
    return round(total / sum(weights), 3)
''', r'''
assert weighted_mean([5], [2]) == 5.0
assert weighted_mean([1, 2], [1, 1]) == 1.5
assert weighted_mean([10, 0], [1, 2]) == 3.333
assert weighted_mean([2, 4, 6], [0.5, 0.25, 0.25]) == 3.5
''')

task(r'''def average_word_length(text: str) -> float:
    """Mean length of the whitespace-separated words in text, rounded to 2 decimals (0.0 if none).

    >>> average_word_length("hi there you")
    3.33
    """
''', r'''
    words = text.split()
    if not words:
        return 0.0
    return round(sum(len(w) for w in words) / len(words), 2)
''', r'''
assert average_word_length("") == 0.0
assert average_word_length("abc") == 3.0
assert average_word_length("a bb") == 1.5
assert average_word_length("   ") == 0.0
''')

task(r'''def find_sorted(items: list, target) -> int:
    """Binary search: return an index of target in the ascending list items, or -1 if absent.

    >>> find_sorted([1, 3, 5, 7, 9], 7)
    3
    """
''', r'''
    lo, hi = 0, len(items) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1
''', r'''
assert find_sorted([], 1) == -1
assert find_sorted([4], 4) == 0
assert find_sorted([1, 2, 3], 0) == -1
assert find_sorted([1, 2, 3], 4) == -1
assert find_sorted(list(range(0, 100, 2)), 64) == 32
''')

task(r'''def sort_by_length(words: list) -> list:
    """Sort words by length, shortest first, breaking ties by ordinary string comparison.

    >>> sort_by_length(["pear", "fig", "apple", "kiwi"])
    ['fig', 'kiwi', 'pear', 'apple']
    """
''', r'''
    return sorted(words, key=lambda w: (len(w), w))
''', r'''
assert sort_by_length([]) == []
assert sort_by_length(["b", "a"]) == ["a", "b"]
assert sort_by_length(["ccc", "bb", "a"]) == ["a", "bb", "ccc"]
assert sort_by_length(["B", "a"]) == ["B", "a"]
''')

task(r'''def oldest_first(people: list) -> list:
    """Sort (name, age) pairs by age descending, then by name ascending; return just the names.

    >>> oldest_first([("ann", 30), ("bob", 25), ("cat", 30)])
    ['ann', 'cat', 'bob']
    """
''', r'''
    return [name for name, age in sorted(people, key=lambda p: (-p[1], p[0]))]
''', r'''
assert oldest_first([]) == []
assert oldest_first([("z", 1)]) == ["z"]
assert oldest_first([("b", 5), ("a", 5)]) == ["a", "b"]
assert oldest_first([("young", 2), ("old", 90), ("mid", 40)]) == ["old", "mid", "young"]
''')

task(r'''def page_slice(items: list, page: int, per_page: int) -> list:
    """Items shown on one page of a paginated list.

    Args:
        items: everything that could be shown.
        page: the page number, starting at 1. Pages before 1 or past the end are empty.
        per_page: how many items fit on a page.

    >>> page_slice(list(range(10)), 2, 4)
    [4, 5, 6, 7]
    """
''', r'''
    if page < 1:
        return []
    start = (page - 1) * per_page
    return items[start:start + per_page]
''', r'''
assert page_slice([], 1, 5) == []
assert page_slice([1, 2, 3], 1, 5) == [1, 2, 3]
assert page_slice([1, 2, 3], 2, 2) == [3]
assert page_slice([1, 2, 3], 3, 2) == []
assert page_slice([1, 2, 3], 0, 2) == []
''')

task(r'''def page_count(total_items: int, per_page: int) -> int:
    """How many pages are needed to show total_items with per_page items each (at least 1 page).

    >>> page_count(45, 10)
    5
    """
''', r'''
    return max(1, -(-total_items // per_page))
''', r'''
assert page_count(0, 10) == 1
assert page_count(10, 10) == 1
assert page_count(11, 10) == 2
assert page_count(1, 1) == 1
assert page_count(100, 7) == 15
''')

task(r'''def bucket_counts(values: list, size: int) -> dict:
    """Count values per bucket of width size.

    A value v falls in the bucket that starts at (v // size) * size; the dict maps
    bucket starts to counts.

    >>> bucket_counts([1, 4, 11, 12, 25], 10)
    {0: 2, 10: 2, 20: 1}
    """
''', r'''
    counts = {}
    for v in values:
        start = (v // size) * size
        counts[start] = counts.get(start, 0) + 1
    return counts
''', r'''
assert bucket_counts([], 5) == {}
assert bucket_counts([-1], 10) == {-10: 1}
assert bucket_counts([5, 5, 5], 5) == {5: 3}
assert bucket_counts([0, 9, 10], 10) == {0: 2, 10: 1}
''')

# ---------------------------------------------------------------- dicts and records

task(r'''def low_stock(stock: dict, threshold: int) -> list:
    """Return the names of items whose quantity is below threshold, sorted alphabetically.

    >>> low_stock({"nails": 3, "screws": 50, "bolts": 0}, 5)
    ['bolts', 'nails']
    """
''', r'''
    return sorted(name for name, qty in stock.items() if qty < threshold)
''', r'''
assert low_stock({}, 10) == []
assert low_stock({"a": 5}, 5) == []
assert low_stock({"b": 1, "a": 2}, 3) == ["a", "b"]
assert low_stock({"z": -1}, 0) == ["z"]
''')

task(r'''def merge_counts(a: dict, b: dict) -> dict:
    """Combine two dicts of counts into a new dict, adding the values of keys present in both.

    >>> merge_counts({"x": 1, "y": 2}, {"y": 3, "z": 4})
    {'x': 1, 'y': 5, 'z': 4}
    """
''', r'''
    merged = dict(a)
    for key, value in b.items():
        merged[key] = merged.get(key, 0) + value
    return merged
''', r'''
assert merge_counts({}, {}) == {}
assert merge_counts({"a": 1}, {}) == {"a": 1}
assert merge_counts({}, {"b": 2}) == {"b": 2}
assert merge_counts({"a": -1}, {"a": 1}) == {"a": 0}
''')

task(r'''def invert_mapping(mapping: dict) -> dict:
    """Invert a dict: map each value to the sorted list of keys that had that value.

    >>> invert_mapping({"a": 1, "b": 2, "c": 1})
    {1: ['a', 'c'], 2: ['b']}
    """
''', r'''
    inverted = {}
    for key, value in mapping.items():
        inverted.setdefault(value, []).append(key)
    for keys in inverted.values():
        keys.sort()
    return inverted
''', r'''
assert invert_mapping({}) == {}
assert invert_mapping({"z": 0, "y": 0}) == {0: ["y", "z"]}
assert invert_mapping({1: "one"}) == {"one": [1]}
assert invert_mapping({"a": 1, "b": 2}) == {1: ["a"], 2: ["b"]}
''')

task(r'''def group_by_initial(words: list) -> dict:
    """Group words by their first character (lowercased), keeping the original order inside each group.

    Empty strings are skipped.

    >>> group_by_initial(["apple", "Bob", "avocado", "banana"])
    {'a': ['apple', 'avocado'], 'b': ['Bob', 'banana']}
    """
''', r'''
    groups = {}
    for word in words:
        if word:
            groups.setdefault(word[0].lower(), []).append(word)
    return groups
''', r'''
assert group_by_initial([]) == {}
assert group_by_initial([""]) == {}
assert group_by_initial(["Zed", "zoo"]) == {"z": ["Zed", "zoo"]}
assert group_by_initial(["1a", "1b", "c"]) == {"1": ["1a", "1b"], "c": ["c"]}
''')

task(r'''def leaderboard(scores: dict, n: int) -> list:
    """Return the names of the n best players, highest score first.

    Players with equal scores are ordered by name. If there are fewer than n players,
    return all of them.

    >>> leaderboard({"ann": 10, "bo": 30, "cy": 20, "di": 30}, 3)
    ['bo', 'di', 'cy']
    """
''', r'''
    ranked = sorted(scores, key=lambda name: (-scores[name], name))
    return ranked[:n]
''', r'''
assert leaderboard({}, 3) == []
assert leaderboard({"a": 1}, 0) == []
assert leaderboard({"x": 5, "y": 5}, 5) == ["x", "y"]
assert leaderboard({"p": -1, "q": 0}, 1) == ["q"]
''')

task(r'''def election_winner(ballots: list) -> str:
    """Return the candidate named on the most ballots.

    A tie is broken in favour of the name that comes first alphabetically.
    Return '' when there are no ballots.

    >>> election_winner(["kim", "lee", "kim", "ash", "lee"])
    'kim'
    """
''', r'''
    counts = {}
    for name in ballots:
        counts[name] = counts.get(name, 0) + 1
    if not counts:
        return ""
    return min(counts, key=lambda n: (-counts[n], n))
''', r'''
assert election_winner([]) == ""
assert election_winner(["solo"]) == "solo"
assert election_winner(["b", "a"]) == "a"
assert election_winner(["x", "y", "y"]) == "y"
''')

task(r'''def key_of_max(scores: dict):
    """Key with the largest value; on ties the key that comes first in the dict wins.

    Return None for an empty dict.

    >>> key_of_max({"a": 3, "b": 7, "c": 7})
    'b'
    """
''', r'''
    best = None
    found = False
    for key, value in scores.items():
        if not found or value > scores[best]:
            best, found = key, True
    return best
''', r'''
assert key_of_max({}) is None
assert key_of_max({"x": -1}) == "x"
assert key_of_max({1: 0, 2: 0}) == 1
assert key_of_max({"a": 1, "b": 2, "c": 0}) == "b"
''')

task(r'''def index_by(records: list, key: str) -> dict:
    """Build a dict from each record's value for key to the record itself.

    Records without the key are skipped; when two records share a value, the later one wins.

    >>> index_by([{"id": 1, "n": "a"}, {"id": 2, "n": "b"}], "id")
    {1: {'id': 1, 'n': 'a'}, 2: {'id': 2, 'n': 'b'}}
    """
''', r'''
    return {r[key]: r for r in records if key in r}
''', r'''
assert index_by([], "id") == {}
assert index_by([{"x": 1}], "id") == {}
assert index_by([{"id": "a", "v": 1}, {"id": "a", "v": 2}], "id") == {"a": {"id": "a", "v": 2}}
assert index_by([{"k": 0}], "k") == {0: {"k": 0}}
''')

task(r'''def pluck(records: list, field: str) -> list:
    """Values of field from each dict in records, skipping dicts that lack it.

    >>> pluck([{"name": "ann"}, {"age": 3}, {"name": "bo"}], "name")
    ['ann', 'bo']
    """
''', r'''
    return [r[field] for r in records if field in r]
''', r'''
assert pluck([], "a") == []
assert pluck([{"a": None}], "a") == [None]
assert pluck([{"b": 1}], "a") == []
assert pluck([{"a": 1}, {"a": 2}], "a") == [1, 2]
''')

task(r'''def totals_by_category(expenses: list) -> dict:
    """Sum (category, amount) pairs per category.

    >>> totals_by_category([("food", 12), ("rent", 500), ("food", 8)])
    {'food': 20, 'rent': 500}
    """
''', r'''
    totals = {}
    for category, amount in expenses:
        totals[category] = totals.get(category, 0) + amount
    return totals
''', r'''
assert totals_by_category([]) == {}
assert totals_by_category([("a", 0)]) == {"a": 0}
assert totals_by_category([("x", 1), ("x", -1)]) == {"x": 0}
assert totals_by_category([("b", 2), ("a", 3), ("b", 4)]) == {"b": 6, "a": 3}
''')

task(r'''def shares(values: dict) -> dict:
    """Each key's share of the total as a percentage rounded to 1 decimal.

    When the total is zero, every key gets 0.0.

    >>> shares({"a": 1, "b": 3})
    {'a': 25.0, 'b': 75.0}
    """
''', r'''
    total = sum(values.values())
    if total == 0:
        return {k: 0.0 for k in values}
    return {k: round(v / total * 100, 1) for k, v in values.items()}
''', r'''
assert shares({}) == {}
assert shares({"x": 0}) == {"x": 0.0}
assert shares({"a": 1, "b": 1, "c": 1}) == {"a": 33.3, "b": 33.3, "c": 33.3}
assert shares({"solo": 42}) == {"solo": 100.0}
''')

task(r'''def medal_table(awards: list) -> list:
    """Rank countries by the medals they won.

    awards is a list of (country, medal) pairs where medal is 'gold', 'silver' or 'bronze'.
    Countries are ordered by gold count, then silver, then bronze (all descending), and
    finally by name. Return the ordered list of country names.

    >>> medal_table([("NOR", "gold"), ("SWE", "silver"), ("SWE", "silver"), ("FIN", "gold")])
    ['FIN', 'NOR', 'SWE']
    """
''', r'''
    tally = {}
    for country, medal in awards:
        counts = tally.setdefault(country, {"gold": 0, "silver": 0, "bronze": 0})
        counts[medal] += 1
    return sorted(tally, key=lambda c: (-tally[c]["gold"], -tally[c]["silver"], -tally[c]["bronze"], c))
''', r'''
assert medal_table([]) == []
assert medal_table([("A", "bronze")]) == ["A"]
assert medal_table([("A", "bronze"), ("A", "bronze"), ("B", "silver")]) == ["B", "A"]
assert medal_table([("X", "gold"), ("Y", "gold"), ("Y", "bronze")]) == ["Y", "X"]
''')

task(r'''def nested_get(data: dict, path: str, default=None):
    """Look up a dotted path like 'a.b.c' in nested dicts.

    Return default as soon as a step is missing or the current value is not a dict.

    >>> nested_get({"db": {"host": "x", "port": 5432}}, "db.port")
    5432
    >>> nested_get({"db": {}}, "db.user", "root")
    'root'
    """
''', r'''
    current = data
    for key in path.split("."):
        if not isinstance(current, dict) or key not in current:
            return default
        current = current[key]
    return current
''', r'''
assert nested_get({}, "a") is None
assert nested_get({"a": 1}, "a") == 1
assert nested_get({"a": 1}, "a.b", 0) == 0
assert nested_get({"a": {"b": {"c": [1]}}}, "a.b.c") == [1]
assert nested_get({"a": {"b": None}}, "a.b", 5) is None
''')

task(r'''def flatten_keys(data: dict, prefix: str = "") -> dict:
    """Flatten nested dicts into one dict whose keys are dotted paths to the non-dict values.

    Empty nested dicts disappear. prefix, if given, is put in front of every key
    (joined with a dot).

    >>> flatten_keys({"a": 1, "b": {"c": 2, "d": {"e": 3}}})
    {'a': 1, 'b.c': 2, 'b.d.e': 3}
    """
''', r'''
    flat = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten_keys(value, full))
        else:
            flat[full] = value
    return flat
''', r'''
assert flatten_keys({}) == {}
assert flatten_keys({"a": {}}) == {}
assert flatten_keys({"x": [1, {"y": 2}]}) == {"x": [1, {"y": 2}]}
assert flatten_keys({"a": {"b": {"c": {"d": 0}}}}) == {"a.b.c.d": 0}
assert flatten_keys({"k": 1}, "root") == {"root.k": 1}
''')

task(r'''def changed_keys(before: dict, after: dict) -> list:
    """Sorted keys that were added, removed, or whose value changed between two dicts.

    >>> changed_keys({"a": 1, "b": 2}, {"b": 3, "c": 4})
    ['a', 'b', 'c']
    """
''', r'''
    keys = set(before) | set(after)
    return sorted(k for k in keys if k not in before or k not in after or before[k] != after[k])
''', r'''
assert changed_keys({}, {}) == []
assert changed_keys({"a": 1}, {"a": 1}) == []
assert changed_keys({"a": 1}, {}) == ["a"]
assert changed_keys({"x": None}, {"x": 0}) == ["x"]
''')

task(r'''def deep_sum(nested: list):
    """Sum all numbers in an arbitrarily nested list of lists.

    >>> deep_sum([1, [2, [3, 4]], [], 5])
    15
    """
''', r'''
    total = 0
    for item in nested:
        if isinstance(item, list):
            total += deep_sum(item)
        else:
            total += item
    return total
''', r'''
assert deep_sum([]) == 0
assert deep_sum([[[[]]]]) == 0
assert deep_sum([[[[7]]]]) == 7
assert deep_sum([1, -1, [2, -2]]) == 0
assert deep_sum([0.5, [0.25]]) == 0.75
''')

task(r'''def nesting_depth(value) -> int:
    """How deeply lists are nested in value.

    A non-list has depth 0, [] and [1, 2] have depth 1, and [[1]] has depth 2.

    >>> nesting_depth([1, [2, [3]], 4])
    3
    """
''', r'''
    if not isinstance(value, list):
        return 0
    return 1 + max((nesting_depth(v) for v in value), default=0)
''', r'''
assert nesting_depth(5) == 0
assert nesting_depth([]) == 1
assert nesting_depth([[], []]) == 2
assert nesting_depth("text") == 0
assert nesting_depth([[[[]]], 1]) == 4
''')

# ---------------------------------------------------------------- grids, matrices, geometry

task(r'''def count_neighbors(grid: list, row: int, col: int) -> int:
    """Count '#' cells among the up to eight cells surrounding grid[row][col].

    grid is a list of equal-length strings. Cells outside the grid do not count,
    and the cell itself is not counted.

    >>> count_neighbors(["#.#", ".#.", "###"], 1, 1)
    5
    """
''', r'''
    total = 0
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == 0 and dc == 0:
                continue
            r, c = row + dr, col + dc
            if 0 <= r < len(grid) and 0 <= c < len(grid[r]) and grid[r][c] == "#":
                total += 1
    return total
''', r'''
assert count_neighbors(["#"], 0, 0) == 0
assert count_neighbors(["##", "##"], 0, 0) == 3
assert count_neighbors(["...", "...", "..."], 1, 1) == 0
assert count_neighbors(["###", "###", "###"], 2, 1) == 5
assert count_neighbors(["#..", "...", "..#"], 1, 1) == 2
''')

task(r'''def count_cells(grid: list, symbol: str) -> int:
    """Count how many cells of a grid (a list of strings) equal symbol.

    >>> count_cells(["#..", ".#.", "..#"], "#")
    3
    """
''', r'''
    return sum(row.count(symbol) for row in grid)
''', r'''
assert count_cells([], "#") == 0
assert count_cells(["...."], "#") == 0
assert count_cells(["##", "##"], "#") == 4
assert count_cells(["ab", "ba"], "a") == 2
''')

task(r'''def mirror_rows(grid: list) -> list:
    """Flip a grid of strings left-to-right by reversing every row.

    >>> mirror_rows(["ab.", "#cd"])
    ['.ba', 'dc#']
    """
''', r'''
    return [row[::-1] for row in grid]
''', r'''
assert mirror_rows([]) == []
assert mirror_rows([""]) == [""]
assert mirror_rows(["x"]) == ["x"]
assert mirror_rows(["123", "456"]) == ["321", "654"]
''')

task(r'''def checkerboard(rows: int, cols: int) -> list:
    """A rows x cols checkerboard as a list of strings of '#' and '.'; the top-left cell is '#'.

    >>> checkerboard(2, 3)
    ['#.#', '.#.']
    """
''', r'''
    return ["".join("#" if (r + c) % 2 == 0 else "." for c in range(cols)) for r in range(rows)]
''', r'''
assert checkerboard(0, 5) == []
assert checkerboard(1, 1) == ["#"]
assert checkerboard(3, 2) == ["#.", ".#", "#."]
assert checkerboard(2, 0) == ["", ""]
''')

task(r'''def dense_from_sparse(entries: dict, rows: int, cols: int) -> list:
    """Build a rows x cols matrix of zeros, then fill in entries, a dict {(row, col): value}.

    >>> dense_from_sparse({(0, 1): 5, (1, 0): 7}, 2, 2)
    [[0, 5], [7, 0]]
    """
''', r'''
    matrix = [[0] * cols for _ in range(rows)]
    for (r, c), value in entries.items():
        matrix[r][c] = value
    return matrix
''', r'''
assert dense_from_sparse({}, 0, 0) == []
assert dense_from_sparse({}, 1, 3) == [[0, 0, 0]]
assert dense_from_sparse({(2, 0): 1}, 3, 1) == [[0], [0], [1]]
assert dense_from_sparse({(0, 0): 1}, 2, 2) == [[1, 0], [0, 0]]
''')

task(r'''def scale_matrix(matrix: list, factor) -> list:
    """Return a new matrix with every entry multiplied by factor.

    >>> scale_matrix([[1, 2], [3, 4]], 3)
    [[3, 6], [9, 12]]
    """
''', r'''
    return [[x * factor for x in row] for row in matrix]
''', r'''
assert scale_matrix([], 2) == []
assert scale_matrix([[1]], 0) == [[0]]
assert scale_matrix([[1, -1]], -1) == [[-1, 1]]
assert scale_matrix([[2], [4]], 0.5) == [[1.0], [2.0]]
''')

task(r'''def trace(matrix: list):
    """Sum of the main diagonal (top-left to bottom-right) of a square matrix; 0 for [].

    >>> trace([[1, 2], [3, 4]])
    5
    """
''', r'''
    return sum(matrix[i][i] for i in range(len(matrix)))
''', r'''
assert trace([]) == 0
assert trace([[9]]) == 9
assert trace([[1, 0, 0], [0, 2, 0], [0, 0, 3]]) == 6
assert trace([[-1, 5], [5, -1]]) == -2
''')

task(r'''def identity(n: int) -> list:
    """Return the n x n identity matrix as a list of lists of ints.

    >>> identity(2)
    [[1, 0], [0, 1]]
    """
''', r'''
    return [[1 if r == c else 0 for c in range(n)] for r in range(n)]
''', r'''
assert identity(0) == []
assert identity(1) == [[1]]
assert identity(3) == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
assert sum(map(sum, identity(5))) == 5
''')

task(r'''def heaviest_row(matrix: list) -> int:
    """Index of the row with the largest sum; the first such row wins ties.

    The matrix has at least one row.

    >>> heaviest_row([[1, 1], [3, 0], [0, 2]])
    1
    """
''', r'''
    sums = [sum(row) for row in matrix]
    return sums.index(max(sums))
''', r'''
assert heaviest_row([[0]]) == 0
assert heaviest_row([[1, 2], [2, 1]]) == 0
assert heaviest_row([[-5], [-1], [-3]]) == 1
assert heaviest_row([[], [1]]) == 1
''')

task(r'''def column_totals(rows: list) -> list:
    """Sum each column of a rectangular table given as a list of equal-length rows.

    >>> column_totals([[1, 2, 3], [4, 5, 6]])
    [5, 7, 9]
    """
''', r'''
    if not rows:
        return []
    return [sum(col) for col in zip(*rows)]
''', r'''
assert column_totals([]) == []
assert column_totals([[7]]) == [7]
assert column_totals([[1, -1], [2, -2], [3, -3]]) == [6, -6]
assert column_totals([[0.5, 1], [0.25, 1]]) == [0.75, 2]
''')

task(r'''def split_row(line: str) -> list:
    """Split a comma-separated line into fields with surrounding whitespace removed.

    There is no quoting. A line that is empty or only whitespace gives an empty list.

    >>> split_row(" name , age,city ")
    ['name', 'age', 'city']
    """
''', r'''
    if not line.strip():
        return []
    return [field.strip() for field in line.split(",")]
''', r'''
assert split_row("") == []
assert split_row("a") == ["a"]
assert split_row("a,,b") == ["a", "", "b"]
assert split_row("  ") == []
assert split_row("1, 2 ,3") == ["1", "2", "3"]
''')

task(r'''def dot(u: list, v: list):
    """Dot product of two vectors of equal length.

    >>> dot([1, 2, 3], [4, -5, 6])
    12
    """
''', r'''
    return sum(a * b for a, b in zip(u, v))
''', r'''
assert dot([], []) == 0
assert dot([2], [3]) == 6
assert dot([1, 0], [0, 1]) == 0
assert dot([0.5, 0.5], [2, 4]) == 3.0
''')

task(r'''def manhattan(p: tuple, q: tuple) -> int:
    """Manhattan (taxicab) distance between two 2-D integer points.

    >>> manhattan((1, 2), (4, -2))
    7
    """
''', r'''
    return abs(p[0] - q[0]) + abs(p[1] - q[1])
''', r'''
assert manhattan((0, 0), (0, 0)) == 0
assert manhattan((-1, -1), (1, 1)) == 4
assert manhattan((5, 0), (0, 5)) == 10
assert manhattan((3, 3), (3, 10)) == 7
''')

task(r'''def nearest_to_origin(points: list):
    """Return the point (x, y) closest to (0, 0) by straight-line distance.

    On a tie return the one that appears first. Return None for an empty list.

    >>> nearest_to_origin([(3, 4), (1, -1), (-1, 1)])
    (1, -1)
    """
''', r'''
    best = None
    for x, y in points:
        if best is None or x * x + y * y < best[0] * best[0] + best[1] * best[1]:
            best = (x, y)
    return best
''', r'''
assert nearest_to_origin([]) is None
assert nearest_to_origin([(5, 5)]) == (5, 5)
assert nearest_to_origin([(2, 0), (0, -2), (1, 1)]) == (1, 1)
assert nearest_to_origin([(0, 3), (3, 0)]) == (0, 3)
''')

task(r'''def bounding_box(points: list) -> tuple:
    """Return (min_x, min_y, max_x, max_y) for a non-empty list of (x, y) points.

    >>> bounding_box([(1, 5), (-2, 3), (4, 0)])
    (-2, 0, 4, 5)
    """
''', r'''
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))
''', r'''
assert bounding_box([(0, 0)]) == (0, 0, 0, 0)
assert bounding_box([(1, 1), (1, 1)]) == (1, 1, 1, 1)
assert bounding_box([(-5, -5), (5, 5)]) == (-5, -5, 5, 5)
assert bounding_box([(2, 9), (3, -1), (0, 4)]) == (0, -1, 3, 9)
''')

task(r'''def walk(route: str) -> tuple:
    """Follow compass steps from (0, 0) and return the final (x, y) position.

    'N' adds 1 to y, 'S' subtracts 1 from y, 'E' adds 1 to x and 'W' subtracts 1 from x.
    Any other character is ignored.

    >>> walk("NNEW S")
    (0, 1)
    """
''', r'''
    x = y = 0
    for step in route:
        if step == "N":
            y += 1
        elif step == "S":
            y -= 1
        elif step == "E":
            x += 1
        elif step == "W":
            x -= 1
    return (x, y)
''', r'''
assert walk("") == (0, 0)
assert walk("EEE") == (3, 0)
assert walk("nsew") == (0, 0)
assert walk("WSWS") == (-2, -2)
assert walk("N-N-N") == (0, 3)
''')

task(r'''def polygon_area(vertices: list) -> float:
    """Area of a simple polygon whose (x, y) vertices are given in order (either direction).

    Use the shoelace formula; the result is never negative. Fewer than 3 vertices give 0.

    >>> polygon_area([(0, 0), (4, 0), (4, 3)])
    6.0
    """
''', r'''
    total = 0
    n = len(vertices)
    for i in range(n):
        x1, y1 = vertices[i]
        x2, y2 = vertices[(i + 1) % n]
        total += x1 * y2 - x2 * y1
    return abs(total) / 2
''', r'''
assert polygon_area([]) == 0
assert polygon_area([(0, 0), (1, 0), (1, 1), (0, 1)]) == 1.0
assert polygon_area([(0, 0), (0, 2), (2, 2), (2, 0)]) == 4.0
assert polygon_area([(0, 0), (2, 0), (1, 1), (2, 2), (0, 2)]) == 3.0
''')

task(r'''def path_length(points: list) -> float:
    """Total length of the polyline through points, rounded to 3 decimals.

    >>> path_length([(0, 0), (3, 4), (3, 0)])
    9.0
    """
''', r'''
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:]):
        total += ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5
    return round(total, 3)
''', r'''
assert path_length([]) == 0
assert path_length([(1, 1)]) == 0
assert path_length([(0, 0), (1, 1)]) == 1.414
assert path_length([(0, 0), (0, 5), (0, 0)]) == 10.0
''')

task(r'''def slope(p: tuple, q: tuple):
    """Slope of the line through points p and q, or None if the line is vertical (same x).

    >>> slope((0, 0), (2, 1))
    0.5
    >>> slope((3, 1), (3, 8)) is None
    True
    """
''', r'''
    if p[0] == q[0]:
        return None
    return (q[1] - p[1]) / (q[0] - p[0])
''', r'''
assert slope((0, 0), (1, 1)) == 1.0
assert slope((1, 5), (3, 5)) == 0.0
assert slope((2, 2), (0, 6)) == -2.0
assert slope((0, 0), (0, 0)) is None
''')

task(r'''def overlap_length(a: tuple, b: tuple):
    """Length of the overlap of two intervals (start, end) with start <= end; 0 if they do not overlap.

    >>> overlap_length((1, 5), (3, 9))
    2
    >>> overlap_length((0, 1), (4, 6))
    0
    """
''', r'''
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))
''', r'''
assert overlap_length((0, 10), (2, 3)) == 1
assert overlap_length((0, 5), (5, 9)) == 0
assert overlap_length((-5, 5), (-10, 0)) == 5
assert overlap_length((3, 3), (0, 9)) == 0
assert overlap_length((4, 8), (0, 6)) == 2
''')

task(r'''def knight_moves(square: str) -> int:
    """How many squares a chess knight can reach in one move from square (such as 'a1') on an empty 8x8 board.

    >>> knight_moves("a1")
    2
    >>> knight_moves("d4")
    8
    """
''', r'''
    col = ord(square[0]) - ord("a")
    row = int(square[1]) - 1
    jumps = [(1, 2), (2, 1), (-1, 2), (-2, 1), (1, -2), (2, -1), (-1, -2), (-2, -1)]
    return sum(1 for dc, dr in jumps if 0 <= col + dc < 8 and 0 <= row + dr < 8)
''', r'''
assert knight_moves("h8") == 2
assert knight_moves("b1") == 3
assert knight_moves("b2") == 4
assert knight_moves("e1") == 4
assert knight_moves("c3") == 8
''')

task(r'''def three_in_a_row(board: list) -> str:
    """Return 'X' or 'O' if that player has three in a row on a 3x3 board, else ''.

    board is a list of three 3-character strings using 'X', 'O' and '.'. Rows, columns
    and both diagonals count. At most one player has a line.

    >>> three_in_a_row(["XO.", "XO.", "X.."])
    'X'
    """
''', r'''
    lines = [list(row) for row in board]
    lines += [[board[r][c] for r in range(3)] for c in range(3)]
    lines.append([board[i][i] for i in range(3)])
    lines.append([board[i][2 - i] for i in range(3)])
    for line in lines:
        if line[0] != "." and line[0] == line[1] == line[2]:
            return line[0]
    return ""
''', r'''
assert three_in_a_row(["...", "...", "..."]) == ""
assert three_in_a_row(["OOO", "X.X", "..X"]) == "O"
assert three_in_a_row(["X.O", ".O.", "O.X"]) == "O"
assert three_in_a_row(["XOX", "OXO", "OXO"]) == ""
assert three_in_a_row(["X..", ".X.", "..X"]) == "X"
''')

# ---------------------------------------------------------------- small text rendering

task(r'''def bar_chart(counts: dict) -> list:
    """Render counts as text bars 'label: ***', one star per unit, with labels in sorted order.

    >>> bar_chart({"b": 2, "a": 3})
    ['a: ***', 'b: **']
    """
''', r'''
    return [label + ": " + "*" * counts[label] for label in sorted(counts)]
''', r'''
assert bar_chart({}) == []
assert bar_chart({"x": 0}) == ["x: "]
assert bar_chart({"n": 1}) == ["n: *"]
assert bar_chart({"c": 1, "a": 1, "b": 1}) == ["a: *", "b: *", "c: *"]
''')

task(r'''def triangle_lines(height: int, char: str = "*") -> list:
    """Lines of a right-angled triangle: line i (counting from 1) holds i copies of char.

    >>> triangle_lines(3)
    ['*', '**', '***']
    """
''', r'''
    return [char * i for i in range(1, height + 1)]
''', r'''
assert triangle_lines(0) == []
assert triangle_lines(1, "#") == ["#"]
assert triangle_lines(2, "ab") == ["ab", "abab"]
assert len(triangle_lines(10)) == 10
''')

task(r'''def box_text(text: str) -> list:
    """Draw a box of '+', '-' and '|' around one line of text, with one space of padding on each side.

    >>> box_text("hi")
    ['+----+', '| hi |', '+----+']
    """
''', r'''
    border = "+" + "-" * (len(text) + 2) + "+"
    return [border, "| " + text + " |", border]
''', r'''
assert box_text("") == ["+--+", "|  |", "+--+"]
assert box_text("x") == ["+---+", "| x |", "+---+"]
assert box_text("hello world")[1] == "| hello world |"
assert box_text("ab")[0] == "+----+"
''')

task(r'''def progress_bar(fraction: float, width: int = 10) -> str:
    """Text progress bar such as '[####------]'.

    fraction is first clamped to [0, 1]; the bar then holds round(fraction * width) '#'
    characters followed by '-' up to width characters, between square brackets.

    >>> progress_bar(0.4)
    '[####------]'
    """
''', r'''
    fraction = min(1.0, max(0.0, fraction))
    filled = round(fraction * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"
''', r'''
assert progress_bar(0) == "[----------]"
assert progress_bar(1) == "[##########]"
assert progress_bar(2.5) == "[##########]"
assert progress_bar(0.5, 4) == "[##--]"
assert progress_bar(-1, 3) == "[---]"
''')

task(r'''def oxford_join(items: list) -> str:
    """Join strings as an English list with an Oxford comma.

    >>> oxford_join(["red", "green", "blue"])
    'red, green, and blue'
    >>> oxford_join(["tea", "cake"])
    'tea and cake'
    """
''', r'''
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return items[0] + " and " + items[1]
    return ", ".join(items[:-1]) + ", and " + items[-1]
''', r'''
assert oxford_join([]) == ""
assert oxford_join(["solo"]) == "solo"
assert oxford_join(["a", "b", "c", "d"]) == "a, b, c, and d"
assert oxford_join(["x", "y"]) == "x and y"
''')

task(r'''def pluralize(count: int, noun: str) -> str:
    """Return '<count> <noun>' with a simple English plural when count is not 1.

    Plural rules: a noun ending in a consonant followed by 'y' changes 'y' to 'ies';
    a noun ending in 's', 'x', 'ch' or 'sh' adds 'es'; any other noun adds 's'.

    >>> pluralize(1, "cat")
    '1 cat'
    >>> pluralize(3, "city")
    '3 cities'
    >>> pluralize(0, "box")
    '0 boxes'
    """
''', r'''
    if count == 1:
        return f"1 {noun}"
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in "aeiou":
        plural = noun[:-1] + "ies"
    elif noun.endswith(("s", "x", "ch", "sh")):
        plural = noun + "es"
    else:
        plural = noun + "s"
    return f"{count} {plural}"
''', r'''
assert pluralize(2, "day") == "2 days"
assert pluralize(5, "bus") == "5 buses"
assert pluralize(2, "church") == "2 churches"
assert pluralize(10, "dish") == "10 dishes"
assert pluralize(1, "city") == "1 city"
assert pluralize(-1, "dog") == "-1 dogs"
''')

task(r'''def possessive(name: str) -> str:
    """Possessive form of a name: just an apostrophe if it ends in 's' or 'S', otherwise "'s".

    >>> possessive("Anna")
    "Anna's"
    >>> possessive("James")
    "James'"
    """
''', r'''
    return name + "'" if name.endswith(("s", "S")) else name + "'s"
''', r'''
assert possessive("Bob") == "Bob's"
assert possessive("CHRIS") == "CHRIS'"
assert possessive("x") == "x's"
assert possessive("Glass") == "Glass'"
''')


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_path = os.path.join(here, "tasks.jsonl")
    with open(out_path, "w", encoding="utf-8") as f:
        for t in TASKS:
            f.write(json.dumps(t, ensure_ascii=False) + "\n")
    print(f"wrote {len(TASKS)} tasks to {out_path}")


if __name__ == "__main__":
    main()
