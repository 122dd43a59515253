//! How a user's code becomes the model's prompt, and how the code is read back out of the answer.
//!
//! An instruct model answers best in the format it was trained on. Three formats, measured on the executable
//! evaluation (`tools/train/adapt/README.md`):
//!
//! - [`PromptFormat::Bare`]: the user's text as it is; the model continues it.
//! - [`PromptFormat::Chat`]: the model's chat template, asking to complete the function with the code in a
//!   fence; the answer usually repeats the whole function in a fence of its own, with prose around it.
//! - [`PromptFormat::ChatOpened`]: the chat template with the assistant's answer already opened by a fence and
//!   the user's own code, so the model writes only the rest of the function and closes the fence.
//!
//! Chat templates are Jinja programs; the product renders the one family its models use, ChatML
//! (`<|im_start|>role\n…<|im_end|>\n`, Qwen2 and SmolLM2), recognised in the template text with the default
//! system message the template inserts when none is given.

use serde::{Deserialize, Serialize};

use crate::Tokenizer;

/// How the prompt is built from the user's code (`prompt_format` in `generation_config.json`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptFormat {
    #[default]
    Bare,
    Chat,
    ChatOpened,
}

impl PromptFormat {
    pub const ALL: [PromptFormat; 3] = [PromptFormat::Bare, PromptFormat::Chat, PromptFormat::ChatOpened];

    pub fn name(self) -> &'static str {
        match self {
            PromptFormat::Bare => "bare",
            PromptFormat::Chat => "chat",
            PromptFormat::ChatOpened => "chat_opened",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The format to use: `chosen` (the user's, else the model's recommendation), else chat_opened for a model
    /// with a chat template (its best left-to-right pass rate on held-out problems) and bare for one without.
    pub fn or_default(chosen: Option<Self>, template: Option<&ChatTemplate>) -> Self {
        chosen.unwrap_or(if template.is_some() { PromptFormat::ChatOpened } else { PromptFormat::Bare })
    }

    /// The format for the user's `text`: bare for a text already in chat markup (written by hand in the chat
    /// format, used as it is), else this one.
    pub fn for_text(self, text: &str) -> Self {
        if ChatTemplate::is_marked_up(text) { PromptFormat::Bare } else { self }
    }

    /// Whether a vocabulary token (byte-level form, `Ċ` for a newline) closes the answer: in chat_opened a
    /// token that starts a line with a fence, so decoding can stop there.
    pub fn token_ends_answer(self, token: &str) -> bool {
        self == PromptFormat::ChatOpened && token.trim_start_matches('Ċ').starts_with(FENCE)
    }

    /// The tokens that end an answer in this format: the model's own (`model_ends`) and every vocabulary token
    /// that [closes the answer](Self::token_ends_answer).
    pub fn end_tokens(self, tokenizer: &Tokenizer, mut model_ends: Vec<u32>) -> Vec<u32> {
        if self == PromptFormat::ChatOpened {
            let vocab = tokenizer.vocab_size() as u32;
            model_ends
                .extend((0..vocab).filter(|&id| tokenizer.id_to_token(id).is_some_and(|t| self.token_ends_answer(&t))));
        }
        model_ends
    }
}

/// What the user asks in the chat formats, before the code.
pub const REQUEST: &str = "Complete the following Python function:\n";
/// Opens a fenced Python block.
pub const FENCE_OPEN: &str = "```python\n";
/// Closes a fenced block (and opens an unnamed one).
pub const FENCE: &str = "```";

const START: &str = "<|im_start|>";
const END: &str = "<|im_end|>";

/// A ChatML chat template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatTemplate {
    /// The system message the template writes when the conversation has none.
    pub default_system: Option<String>,
}

impl ChatTemplate {
    /// The template a Jinja chat template describes, if it is ChatML. Its default system message is the text
    /// it writes literally in a system turn (`'<|im_start|>system\n…<|im_end|>`), if any.
    pub fn from_jinja(template: &str) -> Option<Self> {
        if !template.contains(START) || !template.contains(END) {
            return None;
        }
        let literal = format!("'{START}system\\n");
        let default_system = template.match_indices(&literal).find_map(|(at, _)| {
            let rest = &template[at + literal.len()..];
            let text = &rest[..rest.find(END)?];
            // A literal message, not an expression that concatenates the conversation's own.
            (!text.contains('\'') && !text.contains('+')).then(|| text.to_owned())
        });
        Some(ChatTemplate { default_system })
    }

    /// A Jinja ChatML template that renders as this one (and that [`from_jinja`](Self::from_jinja) reads back
    /// as it): what a converted model's `chat_template.jinja` holds.
    pub fn to_jinja(&self) -> String {
        // A default system message with a quote would end the Jinja string: such a template keeps none.
        let system = self.default_system.as_deref().filter(|s| !s.contains(['\'', '\\', '+']));
        let default = system.map_or(String::new(), |text| {
            format!(
                "{{%- if messages[0]['role'] != 'system' %}}{{{{- '{START}system\\n{text}{END}\\n' }}}}{{%- endif %}}"
            )
        });
        format!(
            "{default}{{%- for message in messages %}}{{{{- '{START}' + message['role'] + '\\n' + message['content'] + \
             '{END}\\n' }}}}{{%- endfor %}}{{%- if add_generation_prompt %}}{{{{- '{START}assistant\\n' }}}}{{%- endif %}}\n"
        )
    }

    fn turn(role: &str, content: &str) -> String {
        format!("{START}{role}\n{content}{END}\n")
    }

    /// One user turn (after the default system message) and the opening of the assistant's answer.
    pub fn user_turn(&self, content: &str) -> String {
        let system = self.default_system.as_deref().map(|s| Self::turn("system", s)).unwrap_or_default();
        format!("{system}{}{START}assistant\n", Self::turn("user", content))
    }

    /// Whether `text` already holds this template's markup (a prompt written by hand in the chat format).
    pub fn is_marked_up(text: &str) -> bool {
        text.contains(START)
    }
}

/// A prompt ready to encode, built from the user's code in one format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub format: PromptFormat,
    /// What the model reads.
    pub text: String,
    /// The user's own code, where `text` ends with it (bare and chat_opened).
    pub code: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("prompt format {format}: the model has no chat template it can render (only ChatML); use bare")]
pub struct NoChatTemplate {
    pub format: &'static str,
}

impl Prompt {
    /// The prompt for `code` in `format`; the chat formats need the model's template.
    pub fn new(format: PromptFormat, template: Option<&ChatTemplate>, code: &str) -> Result<Self, NoChatTemplate> {
        let template = || template.ok_or(NoChatTemplate { format: format.name() });
        let code = if format == PromptFormat::ChatOpened { Self::line_ended(code) } else { code.to_owned() };
        let text = match format {
            PromptFormat::Bare => code.clone(),
            PromptFormat::Chat => template()?.user_turn(&Self::request(&code)),
            PromptFormat::ChatOpened => format!("{}{FENCE_OPEN}{code}", template()?.user_turn(&Self::request(&code))),
        };
        Ok(Prompt { format, text, code })
    }

    /// The code an opened answer continues: with its last line ended where nothing but a new line can follow
    /// (a header's `:` or a docstring's closing quotes), so the answer starts the body instead of closing the
    /// fence on the spot, as the model does after code whose newline a shell or an editor dropped. A partly
    /// written line is left for the model to finish.
    fn line_ended(code: &str) -> String {
        let last = code.rsplit('\n').next().unwrap_or_default().trim_end();
        let ends_a_line = last.ends_with(':') || last.ends_with("\"\"\"") || last.ends_with("'''");
        if ends_a_line && !code.ends_with('\n') { format!("{code}\n") } else { code.to_owned() }
    }

    /// The user's turn in the chat formats: the request and the code in a fence.
    fn request(code: &str) -> String {
        let newline = if code.ends_with('\n') { "" } else { "\n" };
        format!("{REQUEST}{FENCE_OPEN}{code}{newline}{FENCE}")
    }

    /// The code the answer contributes: in bare and chat_opened the continuation of the user's code (for
    /// chat_opened, up to the fence that closes it), in chat the code of the answer's first fenced block (the
    /// whole answer when it has none).
    pub fn code_of(&self, answer: &str) -> String {
        match self.format {
            PromptFormat::Bare => answer.to_owned(),
            PromptFormat::ChatOpened => until_fence(answer).to_owned(),
            PromptFormat::Chat => match answer.find(FENCE) {
                Some(at) => {
                    let block = &answer[at + FENCE.len()..];
                    // The rest of the fence's line names the language.
                    let body = block.find('\n').map_or("", |nl| &block[nl + 1..]);
                    until_fence(body).to_owned()
                }
                None => answer.to_owned(),
            },
        }
    }

    /// Bytes of `text` before the user's code where `text` ends with it (chat_opened's markup, which a view
    /// may leave out); 0 in bare and in chat, whose text does not end with the code.
    pub fn markup_len(&self) -> usize {
        match self.format {
            PromptFormat::Bare | PromptFormat::Chat => 0,
            PromptFormat::ChatOpened => self.text.len() - self.code.len(),
        }
    }

    /// How many leading tokens of `ids` (this prompt's text, encoded) are the markup: the tokens of
    /// [`markup_len`](Self::markup_len)'s bytes where they are whole tokens of `ids`, else 0.
    pub fn markup_tokens(&self, tokenizer: &Tokenizer, ids: &[u32]) -> crate::Result<usize> {
        let markup = tokenizer.encode(&self.text[..self.markup_len()])?;
        Ok(if ids.starts_with(&markup) { markup.len() } else { 0 })
    }
}

/// `text` up to a fence at the start of a line (all of it when there is none).
fn until_fence(text: &str) -> &str {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with(FENCE) {
            return &text[..at];
        }
        at += line.len();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const QWEN_LIKE: &str = "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + \
        messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are a helper.<|im_end|>\\n' }}\
        {%- endif %}{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + \
        '<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
    const CODE: &str = "def f(x):\n    \"\"\"Twice x.\"\"\"\n";

    #[test]
    fn chatml_is_recognised_with_its_default_system_message() {
        let t = ChatTemplate::from_jinja(QWEN_LIKE).unwrap();
        assert_eq!(t.default_system.as_deref(), Some("You are a helper."));
        assert_eq!(ChatTemplate::from_jinja("{{ bos_token }}{% for m in messages %}[INST]{% endfor %}"), None);
        let plain =
            "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>'}}{% endfor %}";
        assert_eq!(ChatTemplate::from_jinja(plain).unwrap().default_system, None);
    }

    #[test]
    fn a_written_template_reads_back_as_itself() {
        let t = ChatTemplate::from_jinja(QWEN_LIKE).unwrap();
        let written = t.to_jinja();
        assert!(
            written.starts_with("{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are a helper.")
        );
        assert_eq!(ChatTemplate::from_jinja(&written), Some(t));
        let none = ChatTemplate { default_system: None };
        assert_eq!(ChatTemplate::from_jinja(&none.to_jinja()), Some(none));
        let quoted = ChatTemplate { default_system: Some("It's me".into()) };
        assert_eq!(ChatTemplate::from_jinja(&quoted.to_jinja()).unwrap().default_system, None);
    }

    #[test]
    fn every_format_renders_as_worked_by_hand() {
        let t = ChatTemplate::from_jinja(QWEN_LIKE).unwrap();
        let head = "<|im_start|>system\nYou are a helper.<|im_end|>\n<|im_start|>user\nComplete the following \
                    Python function:\n```python\ndef f(x):\n    \"\"\"Twice x.\"\"\"\n```<|im_end|>\n<|im_start|>assistant\n";
        assert_eq!(Prompt::new(PromptFormat::Bare, None, CODE).unwrap().text, CODE);
        assert_eq!(Prompt::new(PromptFormat::Chat, Some(&t), CODE).unwrap().text, head);
        let opened = Prompt::new(PromptFormat::ChatOpened, Some(&t), CODE).unwrap();
        assert_eq!(opened.text, format!("{head}```python\n{CODE}"));
        assert_eq!(&opened.text[..opened.markup_len()], format!("{head}```python\n"));
        assert_eq!(Prompt::new(PromptFormat::Chat, Some(&t), CODE).unwrap().markup_len(), 0);
        assert_eq!(PromptFormat::ChatOpened.for_text(CODE), PromptFormat::ChatOpened);
        assert_eq!(PromptFormat::ChatOpened.for_text(&opened.text), PromptFormat::Bare, "already in chat markup");
        assert_eq!(Prompt::new(PromptFormat::Chat, None, CODE), Err(NoChatTemplate { format: "chat" }));
    }

    #[test]
    fn an_opened_answer_starts_on_a_new_line_after_a_header_or_a_docstring() {
        let t = ChatTemplate { default_system: None };
        let opened = |code: &str| Prompt::new(PromptFormat::ChatOpened, Some(&t), code).unwrap();
        for code in [CODE.trim_end(), "def f(x):", "def f(x):\n    '''Twice x.'''  "] {
            let prompt = opened(code);
            assert_eq!(prompt.code, format!("{code}\n"), "{code:?}");
            assert!(prompt.text.ends_with(&prompt.code) && prompt.text.matches("```python\n").count() == 2);
        }
        // A line the user is still writing is the model's to finish; an ended one stays as it is.
        for code in ["def f(x):\n    return 2 *", CODE] {
            assert_eq!(opened(code).code, code);
        }
        assert_eq!(Prompt::new(PromptFormat::Bare, None, "def f(x):").unwrap().code, "def f(x):");
    }

    #[test]
    fn code_is_read_out_of_each_kind_of_answer() {
        let t = ChatTemplate { default_system: None };
        let opened = Prompt::new(PromptFormat::ChatOpened, Some(&t), CODE).unwrap();
        assert_eq!(opened.code_of("    return 2 * x\n```\n\nThis doubles."), "    return 2 * x\n");
        assert_eq!(opened.code_of("    return 2 * x\n"), "    return 2 * x\n");
        let chat = Prompt::new(PromptFormat::Chat, Some(&t), CODE).unwrap();
        let answer = "Here it is:\n\n```python\ndef f(x):\n    return 2 * x\n```\nDone.";
        assert_eq!(chat.code_of(answer), "def f(x):\n    return 2 * x\n");
        assert_eq!(chat.code_of("no fence"), "no fence");
        assert!(opened.format.token_ends_answer("```") && opened.format.token_ends_answer("Ċ```Ċ"));
        assert!(!opened.format.token_ends_answer("Ġreturn") && !chat.format.token_ends_answer("```"));
    }
}
