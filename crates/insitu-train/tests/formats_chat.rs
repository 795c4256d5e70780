//! Real chat templates (as published in the models' tokenizer configs)
//! rendered byte-for-byte as `transformers`' `apply_chat_template` would.
//! Expected strings are worked out by hand from the templates.

use insitu_train::chat::{ChatTemplate, Message};

/// SmolLM2-135M-Instruct (ChatML with a default system prompt).
const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Meta-Llama-3-8B-Instruct.
const LLAMA3: &str = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

/// Mistral-7B-Instruct-v0.1.
const MISTRAL: &str = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

fn user_assistant() -> Vec<Message> {
    vec![
        Message::new("user", "Summarise the handover."),
        Message::new("assistant", "Stable overnight."),
        Message::new("user", "Any actions?"),
    ]
}

#[test]
fn smollm2_chatml_adds_default_system_prompt() {
    let t = ChatTemplate::new(
        SMOLLM2,
        Some("<|im_start|>".into()),
        Some("<|im_end|>".into()),
    );
    let msgs = [Message::new("user", "What is the plan?")];
    assert_eq!(
        t.render(&msgs, true).unwrap(),
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the plan?<|im_end|>\n<|im_start|>assistant\n"
    );
    assert_eq!(
        t.render(&msgs, false).unwrap(),
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the plan?<|im_end|>\n"
    );
}

#[test]
fn smollm2_chatml_keeps_a_given_system_prompt() {
    let t = ChatTemplate::new(SMOLLM2, None, None);
    let msgs = [
        Message::new("system", "Be brief."),
        Message::new("user", "Café  au lait?\n"),
        Message::new("assistant", "Yes."),
    ];
    assert_eq!(
        t.render(&msgs, false).unwrap(),
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nCafé  au lait?\n<|im_end|>\n<|im_start|>assistant\nYes.<|im_end|>\n"
    );
}

#[test]
fn llama3_trims_content_and_prefixes_bos_once() {
    let t = ChatTemplate::new(
        LLAMA3,
        Some("<|begin_of_text|>".into()),
        Some("<|eot_id|>".into()),
    );
    let msgs = [
        Message::new("system", "  You are a clinician. "),
        Message::new("user", "BP?\n"),
    ];
    assert_eq!(
        t.render(&msgs, true).unwrap(),
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a clinician.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBP?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    );
}

#[test]
fn mistral_alternation_and_eos() {
    let t = ChatTemplate::new(MISTRAL, Some("<s>".into()), Some("</s>".into()));
    assert_eq!(
        t.render(&user_assistant(), false).unwrap(),
        "<s>[INST] Summarise the handover. [/INST]Stable overnight.</s>[INST] Any actions? [/INST]"
    );
    let bad = [Message::new("user", "a"), Message::new("user", "b")];
    let e = t.render(&bad, false).unwrap_err().to_string();
    assert!(e.contains("Conversation roles must alternate"), "{e}");
    let system = [Message::new("system", "x")];
    let e = t.render(&system, false).unwrap_err().to_string();
    assert!(
        e.contains("must alternate") || e.contains("Only user and assistant"),
        "{e}"
    );
}
