//! BertModel and the WordPiece tokenizer against PyTorch `transformers`: a tiny
//! random-weight BERT and tokenizer (tests/fixtures/bert_tiny, made by
//! tests/fixtures/make_bert_fixture.py) give transformers' outputs, gradients and token
//! ids on every device; bad checkpoints and configs are errors that name the problem.

mod common;
use common::assert_close;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use wgrad::functional as F;
use wgrad::nn::{self, bert, BertConfig, BertModel};
use wgrad::{io, DType, Device, Tensor};
use wgrad_data::tokenizer::Tokenizer;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bert_tiny")
}

fn expected(dev: &Device) -> HashMap<String, Tensor> {
    io::load_safetensors(fixture_dir().join("expected.safetensors"), dev).unwrap()
}

/// The fixture model on `dev`, in eval mode, with transformers' expected tensors.
fn fixture_model(dev: &Device) -> (BertModel, HashMap<String, Tensor>) {
    let model = BertModel::from_pretrained(fixture_dir(), dev).unwrap();
    model.eval();
    (model, expected(dev))
}

/// The sentence embedding as sentence-transformers computes it.
fn sentence_embedding(hidden: &Tensor, mask: &Tensor) -> Tensor {
    F::normalize(&bert::mean_pool(hidden, mask), 1, 1e-12)
}

#[test]
fn tiny_bert_matches_transformers_forward_and_backward() {
    for dev in common::devices() {
        let (model, want) = fixture_model(&dev);
        let (ids, mask, types) = (&want["input_ids"], &want["attention_mask"], &want["token_type_ids"]);
        let out = model.forward_with(ids, Some(mask), Some(types));
        let what = |name: &str| format!("{name} on {}", dev.name());
        assert_close(&out.last_hidden_state, &want["last_hidden_state"], 2e-5, 1e-5, &what("last_hidden_state"));
        let pooled = out.pooler_output.as_ref().expect("the fixture has a pooler");
        assert_close(pooled, &want["pooler_output"], 2e-5, 1e-5, &what("pooler_output"));
        let sentence = sentence_embedding(&out.last_hidden_state, mask);
        assert_close(&sentence, &want["sentence_embedding"], 1e-5, 0.0, &what("sentence_embedding"));

        let loss = sentence.mul(&want["probe"]).sum_all().add(&pooled.sum_all().mul_scalar(0.5));
        let grads = loss.backward().unwrap();
        let params: HashMap<String, _> = model.named_parameters().into_iter().collect();
        for (name, g) in want.iter().filter_map(|(k, v)| Some((k.strip_prefix("grad.")?, v))) {
            let got = grads.get(&params[name].tensor()).unwrap_or_else(|| panic!("no gradient for {name}"));
            assert_close(&got, g, 5e-5, 1e-4, &what(&format!("gradient of {name}")));
        }
    }
}

#[test]
fn padding_does_not_change_a_text_s_outputs() {
    // Row 1 of the fixture is 4 real tokens then padding: alone and unpadded it gives the same.
    for dev in common::devices() {
        let (model, want) = fixture_model(&dev);
        let ids = want["input_ids"].narrow(0, 1, 1).narrow(1, 0, 4);
        let types = want["token_type_ids"].narrow(0, 1, 1).narrow(1, 0, 4);
        let alone = model.forward_with(&ids, None, Some(&types)).last_hidden_state;
        let padded = want["last_hidden_state"].narrow(0, 1, 1).narrow(1, 0, 4);
        assert_close(&alone, &padded, 2e-5, 1e-5, &format!("unpadded row on {}", dev.name()));
    }
}

#[test]
fn state_dict_speaks_hugging_face_names() {
    let model = BertModel::from_pretrained(fixture_dir(), &Device::cpu()).unwrap();
    let ours: Vec<String> = model.state_dict().into_iter().map(|(n, _)| n).collect();
    let mut file: Vec<String> =
        io::load_safetensors(fixture_dir().join("model.safetensors"), &Device::cpu()).unwrap().into_keys().collect();
    let mut sorted = ours.clone();
    sorted.sort();
    file.sort();
    assert_eq!(sorted, file);
    assert_eq!(ours[0], "embeddings.word_embeddings.weight");
    assert!(ours.contains(&"encoder.layer.1.attention.self.value.bias".to_string()));
    assert!(ours.contains(&"encoder.layer.0.attention.output.LayerNorm.weight".to_string()));
}

/// `ParamGroup::split_decay` (by rank) splits BERT as transformers' fine-tuning scripts do
/// by name: `bias` and `LayerNorm.weight` without decay, everything else with it.
#[test]
fn split_decay_is_transformers_no_decay_rule_for_bert() {
    let model = BertModel::from_pretrained(fixture_dir(), &Device::cpu()).unwrap();
    let [decay, no_decay] = nn::ParamGroup::split_decay(model.parameters(), 0.01);
    let by_name = |undecayed: bool| -> Vec<Tensor> {
        let hf_rule = |n: &str| n.ends_with("bias") || n.contains("LayerNorm.weight");
        model.named_parameters().into_iter().filter(|(n, _)| hf_rule(n) == undecayed).map(|(_, p)| p.tensor()).collect()
    };
    let ids = |g: &nn::ParamGroup| g.params.iter().map(|p| p.tensor().id()).collect::<Vec<_>>();
    assert_eq!(ids(&decay), by_name(false).iter().map(Tensor::id).collect::<Vec<_>>());
    assert_eq!(ids(&no_decay), by_name(true).iter().map(Tensor::id).collect::<Vec<_>>());
    assert!(!decay.params.is_empty() && !no_decay.params.is_empty());
    assert_eq!((decay.weight_decay, no_decay.weight_decay), (Some(0.01), Some(0.0)));
}

/// The fixture's tensors, changed by `edit`, saved in a temporary directory with its config.
fn edited_checkpoint(edit: impl FnOnce(&mut HashMap<String, Tensor>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut state = io::load_safetensors(fixture_dir().join("model.safetensors"), &Device::cpu()).unwrap();
    edit(&mut state);
    io::save_safetensors(dir.path().join("model.safetensors"), &state).unwrap();
    std::fs::copy(fixture_dir().join("config.json"), dir.path().join("config.json")).unwrap();
    dir
}

fn load_error(dir: &Path) -> String {
    match BertModel::from_pretrained(dir, &Device::cpu()) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_unexpected_and_misshaped_weights_are_errors_naming_them() {
    let dir = edited_checkpoint(|s| {
        s.remove("encoder.layer.1.output.dense.weight");
        s.insert("encoder.layer.2.output.dense.weight".into(), Tensor::zeros([32, 37], DType::F32, &Device::cpu()));
        s.insert("embeddings.LayerNorm.bias".into(), Tensor::zeros([31], DType::F32, &Device::cpu()));
    });
    let msg = load_error(dir.path());
    for part in [
        "model.safetensors",
        "encoder.layer.1.output.dense.weight",
        "encoder.layer.2.output.dense.weight",
        "embeddings.LayerNorm.bias",
    ] {
        assert!(msg.contains(part), "{part} not named in: {msg}");
    }
}

#[test]
fn task_model_checkpoints_load_as_transformers_loads_them() {
    // A BertFor* checkpoint: `bert.` prefix, a task head, the position_ids buffer, and the
    // old gamma/beta LayerNorm names.
    let dir = edited_checkpoint(|s| {
        let old = std::mem::take(s);
        for (name, t) in old {
            let name = name.replace("embeddings.LayerNorm.weight", "embeddings.LayerNorm.gamma");
            let name = name.replace("embeddings.LayerNorm.bias", "embeddings.LayerNorm.beta");
            s.insert(format!("bert.{name}"), t);
        }
        s.insert(
            "bert.embeddings.position_ids".into(),
            Tensor::arange(0.0, 64.0, DType::I32, &Device::cpu()).reshape([1, 64]),
        );
        s.insert("cls.predictions.bias".into(), Tensor::zeros([40], DType::F32, &Device::cpu()));
    });
    let from_task = BertModel::from_pretrained(dir.path(), &Device::cpu()).unwrap();
    let plain = BertModel::from_pretrained(fixture_dir(), &Device::cpu()).unwrap();
    from_task.eval();
    plain.eval();
    let ids = Tensor::from_vec(vec![2u32, 9, 3], [1, 3], &Device::cpu());
    assert_close(&from_task.forward_ids(&ids), &plain.forward_ids(&ids), 0.0, 0.0, "bert.-prefixed checkpoint");

    // Without pooler weights the model has no pooler.
    let dir = edited_checkpoint(|s| s.retain(|name, _| !name.starts_with("pooler.")));
    let model = BertModel::from_pretrained(dir.path(), &Device::cpu()).unwrap();
    assert!(model.pooler.is_none() && model.forward_with(&ids, None, None).pooler_output.is_none());
}

#[test]
fn bad_configs_and_files_are_clear_errors() {
    let bad = |json: &str| BertConfig::from_json(json).unwrap_err().to_string();
    assert!(bad(r#"{"vocab_size": 10, "hidden_act": "mish"}"#).contains("mish"));
    assert!(bad(r#"{"vocab_size": 10, "hidden_size": 30, "num_attention_heads": 4}"#).contains("multiple"));
    assert!(bad(r#"{"hidden_size": 32}"#).contains("vocab_size"));
    assert!(bad(r#"{"vocab_size": 10, "position_embedding_type": "relative_key"}"#).contains("relative_key"));
    let empty = tempfile::tempdir().unwrap();
    assert!(load_error(empty.path()).contains("config.json"));
    let truncated = edited_checkpoint(|_| {});
    let path = truncated.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(load_error(truncated.path()).contains("model.safetensors"));
}

#[test]
fn out_of_range_token_ids_are_errors_at_the_readback() {
    for dev in common::devices() {
        let model = BertModel::from_pretrained(fixture_dir(), &dev).unwrap();
        let ids = Tensor::from_vec(vec![2u32, 40, 3], [1, 3], &dev);
        let err = model.forward_ids(&ids).to_vec::<f32>().unwrap_err().to_string();
        assert!(err.contains("40") && err.contains("embedding"), "on {}: {err}", dev.name());
    }
}

#[derive(serde::Deserialize)]
struct TokenCases {
    max_length: usize,
    cases: Vec<TokenCase>,
}

#[derive(serde::Deserialize)]
struct TokenCase {
    text: String,
    input_ids: Vec<u32>,
}

fn token_cases() -> TokenCases {
    serde_json::from_str(&std::fs::read_to_string(fixture_dir().join("tokens.json")).unwrap()).unwrap()
}

#[test]
fn tokenizer_gives_transformers_ids() {
    let cases = token_cases();
    let tok = Tokenizer::from_file(fixture_dir().join("tokenizer.json")).unwrap().with_max_length(cases.max_length);
    for case in &cases.cases {
        assert_eq!(tok.encode(&case.text).unwrap(), case.input_ids, "ids of {:?}", case.text);
    }
    // Accents and case go: the same ids with and without them; unknown characters are [UNK].
    let unk = tok.encode("\u{2603}").unwrap()[1];
    assert_eq!(tok.id_to_token(unk).as_deref(), Some("[UNK]"));
}

#[test]
fn tokenizer_batches_are_padded_with_masks() {
    let cases = token_cases();
    let tok = Tokenizer::from_file(fixture_dir().join("tokenizer.json")).unwrap().with_max_length(cases.max_length);
    let texts: Vec<&str> = cases.cases.iter().map(|c| c.text.as_str()).collect();
    let batch = tok.encode_batch(&texts).unwrap();
    let longest = cases.cases.iter().map(|c| c.input_ids.len()).max().unwrap();
    assert_eq!((batch.rows(), batch.len), (texts.len(), longest));
    for (i, case) in cases.cases.iter().enumerate() {
        assert_eq!(batch.tokens(i), case.input_ids.as_slice());
        let pad = longest - case.input_ids.len();
        assert!(batch.input_ids[i][case.input_ids.len()..].iter().all(|&id| id == tok.pad_id()));
        assert_eq!(batch.attention_mask[i].iter().filter(|&&m| m == 0).count(), pad);
        assert!(batch.token_type_ids[i].iter().all(|&t| t == 0));
    }
    let (ids, mask, _) = batch.tensors(&Device::cpu());
    assert_eq!(ids.dims(), &[texts.len(), longest]);
    assert_eq!(
        mask.sum_all().to_scalar().unwrap() as usize,
        cases.cases.iter().map(|c| c.input_ids.len()).sum::<usize>()
    );
    assert_eq!(tok.encode_batch(&[]).unwrap().rows(), 0);
}

#[test]
fn tokenizer_files_that_are_missing_or_corrupt_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let missing = Tokenizer::from_file(dir.path().join("tokenizer.json")).err().unwrap().to_string();
    assert!(missing.contains("tokenizer.json"), "{missing}");
    let corrupt = dir.path().join("tokenizer.json");
    std::fs::write(&corrupt, b"{\"model\": 3").unwrap();
    let msg = Tokenizer::from_file(&corrupt).err().unwrap().to_string();
    assert!(msg.contains("tokenizer.json") && msg.contains("not a tokenizer.json"), "{msg}");
}
