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
