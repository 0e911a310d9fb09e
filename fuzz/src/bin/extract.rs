//! Fuzz target: any answer (and prompt) through code extraction, in both modes.
//!
//! Input layout: `prompt NUL answer`; without a NUL the whole input is the answer. Besides
//! never panicking, extraction must only ever take code from what it was given.

use cargo_llm_bench::pipeline::extract::{extract, Flag};
use cargo_llm_bench::suite::Mode;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let (prompt, answer) = text.split_once('\0').unwrap_or(("", text));

        let chat = extract(Mode::Chat, prompt, answer);
        assert!(
            is_subsequence(chat.code.trim_end(), answer),
            "chat code is not taken from the answer: {chat:?}"
        );
        assert!(chat.code.is_empty() || chat.code.ends_with('\n'));

        let completion = extract(Mode::Completion, prompt, answer);
        if !prompt.is_empty() && !completion.flags.contains(&Flag::NoCodeBlock) {
            assert!(
                completion.code.starts_with(prompt.trim_end()),
                "completion code does not start with the prompt: {completion:?}"
            );
        }
    });
}

/// Whether every character of `needle` appears in `haystack` in order (extraction only removes:
/// thinking, fences, the model's own test module, what follows the function).
fn is_subsequence(needle: &str, haystack: &str) -> bool {
    let mut rest = haystack.chars();
    needle.chars().all(|wanted| rest.any(|c| c == wanted))
}
