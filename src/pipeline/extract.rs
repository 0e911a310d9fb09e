//! Turns a model's answer into the Rust code to score.

use crate::suite::Mode;

/// The code to score and what was noticed on the way.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extracted {
    /// Empty when the answer held no code at all.
    pub code: String,
    pub flags: Vec<Flag>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Flag {
    /// The answer had no fenced code block; the whole answer was taken as code.
    NoCodeBlock,
    /// The answer had several code blocks; the first Rust one was taken.
    SeveralCodeBlocks,
    /// A `<think>` section was removed.
    ThinkingRemoved,
    /// The model's own `#[cfg(test)]` module was removed so it cannot clash with the hidden tests.
    OwnTestsRemoved,
    /// Completion mode: the model repeated the prompt or signature, and the repeat was dropped.
    PromptRepeated,
    /// Completion mode: the braces opened by the prompt never closed.
    Unterminated,
    /// The code contains `todo!()` or `unimplemented!()`.
    Placeholder,
}

pub fn extract(mode: Mode, prompt: &str, answer: &str) -> Extracted {
    let mut flags = Vec::new();
    let answer = strip_thinking(answer, &mut flags);
    let mut code = match mode {
        Mode::Chat => code_block(&answer, &mut flags),
        Mode::Completion => complete(prompt, &answer, &mut flags),
    };
    if mode == Mode::Chat {
        code = remove_own_tests(&code, &mut flags);
    }
    if code.contains("todo!(") || code.contains("unimplemented!(") {
        flags.push(Flag::Placeholder);
    }
    if !code.is_empty() && !code.ends_with('\n') {
        code.push('\n');
    }
    flags.sort();
    Extracted { code, flags }
}

fn strip_thinking(answer: &str, flags: &mut Vec<Flag>) -> String {
    let mut text = answer.to_owned();
    while let Some(start) = text.find("<think>") {
        flags.push(Flag::ThinkingRemoved);
        match text[start..].find("</think>") {
            Some(end) => text.replace_range(start..start + end + "</think>".len(), ""),
            // An unclosed think section holds no answer.
            None => text.truncate(start),
        }
    }
    // Some servers strip the opening tag and leave only the closing one.
    if let Some(end) = text.find("</think>") {
        flags.push(Flag::ThinkingRemoved);
        text.replace_range(..end + "</think>".len(), "");
    }
    flags.dedup();
    text
}

/// The first ```rust block, else the only block, else the whole answer.
fn code_block(answer: &str, flags: &mut Vec<Flag>) -> String {
    let blocks = fenced_blocks(answer);
    let is_rust = |info: &str| {
        matches!(
            info.split_whitespace().next().unwrap_or(""),
            "rust" | "rs" | "Rust"
        )
    };
    if blocks.len() > 1 {
        flags.push(Flag::SeveralCodeBlocks);
    }
    if let Some((_, body)) = blocks.iter().find(|(info, _)| is_rust(info)) {
        return body.clone();
    }
    // An untagged block before one tagged for another language (```sh, ```toml).
    if let Some((_, body)) = blocks
        .iter()
        .find(|(info, _)| info.is_empty())
        .or(blocks.first())
    {
        return body.clone();
    }
    flags.push(Flag::NoCodeBlock);
    answer.trim().to_owned()
}

/// Fenced blocks as (info string, body); an unclosed fence runs to the end of the answer.
fn fenced_blocks(answer: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String, usize)> = None;
    for line in answer.lines() {
        let trimmed = line.trim_start();
        let fence_len = trimmed.chars().take_while(|&c| c == '`').count();
        match &mut current {
            None if fence_len >= 3 => {
                current = Some((
                    trimmed[fence_len..].trim().to_owned(),
                    String::new(),
                    fence_len,
                ))
            }
            Some((_, _, open_len))
                if fence_len >= *open_len && trimmed[fence_len..].trim().is_empty() =>
            {
                let (info, body, _) = current.take().expect("inside a block");
                blocks.push((info, body));
            }
            Some((_, body, _)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    if let Some((info, body, _)) = current {
        blocks.push((info, body));
    }
    blocks
}

/// Completion mode: prompt + answer, cut where the braces the prompt opened close.
fn complete(prompt: &str, answer: &str, flags: &mut Vec<Flag>) -> String {
    let mut continuation = answer;
    // Models often start over: the whole prompt, or its last line (the signature), again.
    let signature = prompt.trim_end().lines().last().unwrap_or("").trim();
    if let Some(rest) = answer.strip_prefix(prompt) {
        continuation = rest;
        flags.push(Flag::PromptRepeated);
    } else if !signature.is_empty() {
        if let Some(position) = answer.find(signature) {
            if answer[..position].trim().is_empty() || prompt.contains(answer[..position].trim()) {
                continuation = &answer[position + signature.len()..];
                if prompt.ends_with('\n') {
                    continuation = continuation.strip_prefix('\n').unwrap_or(continuation);
                }
                flags.push(Flag::PromptRepeated);
            }
        }
    }
    let text = format!("{prompt}{continuation}");
    let open_in_prompt = scan_depth(prompt, None).0;
    if open_in_prompt == 0 {
        return text;
    }
    match scan_depth(&text, Some(prompt.len())).1 {
        Some(end) => text[..end].to_owned(),
        None => {
            flags.push(Flag::Unterminated);
            text
        }
    }
}

/// Walks Rust source tracking brace depth outside strings, chars and comments. Returns the
/// final depth and, when `from` is given, the byte just past the brace at or after `from`
/// that brings the depth back to zero.
fn scan_depth(source: &str, from: Option<usize>) -> (i64, Option<usize>) {
    let bytes = source.as_bytes();
    let mut depth: i64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                // Block comments nest in Rust.
                let mut nesting = 1;
                i += 2;
                while i + 1 < bytes.len() && nesting > 0 {
                    match (bytes[i], bytes[i + 1]) {
                        (b'/', b'*') => (nesting, i) = (nesting + 1, i + 2),
                        (b'*', b'/') => (nesting, i) = (nesting - 1, i + 2),
                        _ => i += 1,
                    }
                }
                i -= 1;
            }
            b'"' => {
                // A raw string r#"..."# needs its hashes matched.
                let hashes = source[..i].bytes().rev().take_while(|&b| b == b'#').count();
                let raw = i > hashes && bytes[i - hashes - 1] == b'r';
                i += 1;
                while i < bytes.len() {
                    if !raw && bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == b'"'
                        && (!raw
                            || source[i + 1..].bytes().take_while(|&b| b == b'#').count() >= hashes)
                    {
                        i += if raw { hashes } else { 0 };
                        break;
                    }
                    i += 1;
                }
            }
            b'\'' => {
                // A char literal ('x', '\n', '{'), not a lifetime ('a).
                if bytes.get(i + 1) == Some(&b'\\') {
                    // Past the quote, the backslash and the escaped character ('\'' too).
                    i += 3;
                    while i < bytes.len() && bytes[i] != b'\'' {
                        i += 1;
                    }
                } else if bytes.get(i + 2) == Some(&b'\'') {
                    i += 2;
                } else if let Some(c) = source[i + 1..].chars().next() {
                    if source[i + 1 + c.len_utf8()..].starts_with('\'') {
                        i += c.len_utf8() + 1;
                    }
                }
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 && from.is_some_and(|from| i >= from) {
                    return (depth, Some(i + 1));
                }
            }
            _ => {}
        }
        i += 1;
    }
    (depth, None)
}

/// Removes `#[cfg(test)]` modules the model wrote itself: the hidden tests bring their own.
fn remove_own_tests(code: &str, flags: &mut Vec<Flag>) -> String {
    let mut code = code.to_owned();
    let mut from = 0;
    while let Some(found) = code[from..].find("#[cfg(test)]") {
        let attribute = from + found;
        from = attribute + 1;
        let Some(module) = test_module_after(&code[attribute + "#[cfg(test)]".len()..]) else {
            continue;
        };
        let item_end = attribute + "#[cfg(test)]".len() + module;
        code.replace_range(attribute..item_end, "");
        from = attribute;
        flags.push(Flag::OwnTestsRemoved);
    }
    flags.dedup();
    code.trim_end().to_owned()
}

/// The length of a `mod NAME { … }` or `mod NAME;` item at the start of `text` (after
/// whitespace, other attributes and a visibility), or None when another item comes first.
fn test_module_after(text: &str) -> Option<usize> {
    let mut rest = text.trim_start();
    while let Some(attribute) = rest.strip_prefix("#[") {
        let close = attribute.find(']')?;
        rest = attribute[close + 1..].trim_start();
    }
    for visibility in ["pub(crate) ", "pub(super) ", "pub "] {
        rest = rest.strip_prefix(visibility).unwrap_or(rest).trim_start();
    }
    let name_and_body = rest.strip_prefix("mod ")?.trim_start();
    let name_length = name_and_body.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    if name_length == 0 {
        return None;
    }
    let after_name = name_and_body[name_length..].trim_start();
    let consumed = text.len() - after_name.len();
    if after_name.starts_with(';') {
        return Some(consumed + 1);
    }
    if !after_name.starts_with('{') {
        return None;
    }
    scan_depth(after_name, Some(0)).1.map(|end| consumed + end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_takes_the_rust_block() {
        let answer = "Here you go:\n```text\nnot this\n```\n```rust\nfn a() {}\n```\nDone.";
        let extracted = extract(Mode::Chat, "", answer);
        assert_eq!(extracted.code, "fn a() {}\n");
        assert_eq!(extracted.flags, [Flag::SeveralCodeBlocks]);
    }

    #[test]
    fn chat_without_a_block_takes_the_whole_answer() {
        let extracted = extract(Mode::Chat, "", "fn a() {}");
        assert_eq!(extracted.code, "fn a() {}\n");
        assert_eq!(extracted.flags, [Flag::NoCodeBlock]);
    }

    #[test]
    fn thinking_is_removed_before_looking_for_code() {
        let answer = "<think>```rust\nfn wrong() {}\n```</think>```rust\nfn right() {}\n```";
        let extracted = extract(Mode::Chat, "", answer);
        assert_eq!(extracted.code, "fn right() {}\n");
        assert!(extracted.flags.contains(&Flag::ThinkingRemoved));
    }

    #[test]
    fn the_models_own_tests_are_removed() {
        let answer = "```rust\npub fn a() -> u8 { 1 }\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn t() { assert_eq!(super::a(), 1); }\n}\n```";
        let extracted = extract(Mode::Chat, "", answer);
        assert_eq!(extracted.code, "pub fn a() -> u8 { 1 }\n");
        assert_eq!(extracted.flags, [Flag::OwnTestsRemoved]);
    }

    #[test]
    fn completion_is_cut_where_the_prompts_braces_close() {
        let prompt = "/// Adds.\npub fn add(a: i32, b: i32) -> i32 {\n";
        let extracted = extract(
            Mode::Completion,
            prompt,
            "    a + b\n}\n\nfn main() { println!(\"{}\", add(1, 2)); }\n",
        );
        assert_eq!(
            extracted.code,
            "/// Adds.\npub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n"
        );
    }

    #[test]
    fn completion_ignores_braces_in_strings_chars_and_comments() {
        let prompt = "pub fn f() -> String {\n";
        let answer =
            "    let _c = '{'; // }\n    let _r = r#\"}\"#;\n    \"}\".to_string()\n}\nextra";
        let extracted = extract(Mode::Completion, prompt, answer);
        assert!(
            extracted.code.ends_with("\"}\".to_string()\n}\n"),
            "{}",
            extracted.code
        );
    }

    #[test]
    fn a_repeated_signature_is_not_duplicated() {
        let prompt = "/// Doubles.\npub fn double(x: u8) -> u8 {\n";
        let answer = "pub fn double(x: u8) -> u8 {\n    x * 2\n}\n";
        let extracted = extract(Mode::Completion, prompt, answer);
        assert_eq!(
            extracted.code,
            "/// Doubles.\npub fn double(x: u8) -> u8 {\n    x * 2\n}\n"
        );
        assert_eq!(extracted.flags, [Flag::PromptRepeated]);
    }

    #[test]
    fn only_test_modules_are_removed_not_other_cfg_test_items() {
        let answer = "```rust\n#[cfg(test)]\nconst X: u32 = 10;\npub mod math {\n    pub fn one() -> u32 { 1 }\n}\n#[cfg(test)]\nmod tests;\npub fn two() -> u32 { 2 }\n```";
        let extracted = extract(Mode::Chat, "", answer);
        assert_eq!(
            extracted.code,
            "#[cfg(test)]\nconst X: u32 = 10;\npub mod math {\n    pub fn one() -> u32 { 1 }\n}\n\npub fn two() -> u32 { 2 }\n"
        );
    }

    #[test]
    fn completion_handles_nested_comments_and_escaped_quotes() {
        let prompt = "pub fn f(c: char) -> bool {\n";
        let answer = "    /* /* } */ } */\n    matches!(c, '\\'' | '{')\n}\nfn extra() {}\n";
        let extracted = extract(Mode::Completion, prompt, answer);
        assert!(extracted.code.ends_with("'{')\n}\n"), "{}", extracted.code);
        assert!(!extracted.flags.contains(&Flag::Unterminated));
    }

    #[test]
    fn an_untagged_block_wins_over_a_shell_block() {
        let answer = "```sh\ncargo test\n```\n```\npub fn a() {}\n```";
        assert_eq!(extract(Mode::Chat, "", answer).code, "pub fn a() {}\n");
    }

    #[test]
    fn placeholders_are_flagged() {
        let extracted = extract(Mode::Chat, "", "```rust\nfn a() { todo!() }\n```");
        assert_eq!(extracted.flags, [Flag::Placeholder]);
    }

    mod properties {
        //! The invariants the `extract` fuzz target checks, on every `cargo test`.

        use super::super::*;
        use proptest::prelude::*;

        /// Answers made of the pieces extraction reacts to, so the cases are interesting.
        fn answer() -> impl Strategy<Value = String> {
            let piece = prop::sample::select(vec![
                "```",
                "```rust\n",
                "````",
                "\n",
                "\r\n",
                "<think>",
                "</think>",
                "#[cfg(test)]",
                "mod tests {",
                "mod t;",
                "}",
                "{",
                "\"",
                "r#\"",
                "\"#",
                "'",
                "'\\''",
                "//",
                "/*",
                "*/",
                "\\",
                "fn f() {",
                "pub ",
                "x",
                " ",
                "é",
                "todo!(",
            ]);
            prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
        }

        /// Whether every character of `needle` appears in `haystack` in order.
        fn is_subsequence(needle: &str, haystack: &str) -> bool {
            let mut rest = haystack.chars();
            needle.chars().all(|wanted| rest.any(|c| c == wanted))
        }

        proptest! {
            #[test]
            fn chat_code_only_ever_comes_from_the_answer(answer in answer()) {
                let extracted = extract(Mode::Chat, "", &answer);
                prop_assert!(is_subsequence(extracted.code.trim_end(), &answer));
                prop_assert!(extracted.code.is_empty() || extracted.code.ends_with('\n'));
            }

            #[test]
            fn completion_code_starts_with_the_prompt(prompt in answer(), answer in answer()) {
                let extracted = extract(Mode::Completion, &prompt, &answer);
                prop_assert!(extracted.code.starts_with(prompt.trim_end()));
            }

            #[test]
            fn plain_code_in_a_rust_fence_comes_back_as_it_was(
                lines in prop::collection::vec("[a-z0-9 (){};:=<>\"'.,+*/-]{0,30}", 1..10)
            ) {
                let code = lines.join("\n");
                prop_assume!(!code.contains("/*") && !code.trim().is_empty());
                let extracted = extract(Mode::Chat, "", &format!("```rust\n{code}\n```\n"));
                prop_assert_eq!(extracted.code, format!("{}\n", code.trim_end()));
            }
        }
    }
}
