//! The GGUF reader and dequantization against the `gguf` Python package, on a file it wrote holding one tensor
//! of every supported type (`tools/reference/make_tiny_llama.py`), as version 3 and patched to version 2.

use unmask_model::gguf::{GgufFile, dequantize, to_tensor_data};
use unmask_model::{QuantScheme, TensorData};
use unmask_tests::{f32_vec, read_json, repo_path};

fn check(bytes: &[u8], version: u32) -> usize {
    let fixture = read_json("tests/fixtures/gguf-types.json");
    let file = GgufFile::parse(bytes).unwrap();
    assert_eq!(file.version, version);
    let expected = fixture["tensors"].as_array().unwrap();
    assert_eq!(file.tensors.len(), expected.len());
    let mut quantized = 0;
    for (info, want) in file.tensors.iter().zip(expected) {
        let what = format!("v{version} {}", info.name);
        assert_eq!(info.name, want["name"].as_str().unwrap(), "{what}");
        assert_eq!(format!("{:?}", info.kind).to_uppercase(), want["type"].as_str().unwrap(), "{what}: type");
        let shape: Vec<usize> =
            want["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        // The package reports GGUF order (columns first); ours is rows first.
        assert_eq!(info.shape(), shape.iter().rev().copied().collect::<Vec<_>>(), "{what}: shape");
        let values = dequantize(info.kind, file.data(info));
        // Both sides do exact arithmetic on the same bytes (f16 scale × small integer, plus the minimum).
        assert_eq!(values, f32_vec(&want["values"]), "{what}: values");
        // Matrices of the quantized types the engines run as stored: our q8/q4/q4a give the same values.
        let stored = to_tensor_data(info.kind, file.data(info), info.shape(), &info.name);
        if let (2, Ok(TensorData::Quant(q))) = (info.shape().len(), stored) {
            let scheme = match format!("{:?}", info.kind).as_str() {
                "Q8_0" => QuantScheme::Q8,
                "Q4_0" => QuantScheme::Q4,
                "Q4_1" => QuantScheme::Q4A,
                other => panic!("{what}: {other} should not stay quantized"),
            };
            assert_eq!(q.scheme, scheme, "{what}");
            assert_eq!(q.dequantize(), values, "{what}: as stored");
            quantized += 1;
        }
    }
    assert_eq!(quantized, 3, "v{version}: Q8_0, Q4_0 and Q4_1 each stay quantized");
    expected.len()
}

#[test]
fn every_tensor_type_dequantizes_as_the_gguf_package_does() {
    let bytes = std::fs::read(repo_path("tests/fixtures/gguf-types.gguf")).unwrap();
    assert_eq!(&bytes[4..8], &3u32.to_le_bytes(), "the package writes version 3");
    assert_eq!(check(&bytes, 3), 6);
    // Version 2 has the same layout (64-bit counts); only the number differs.
    let mut v2 = bytes.clone();
    v2[4..8].copy_from_slice(&2u32.to_le_bytes());
    assert_eq!(check(&v2, 2), 6);
}

/// The 5-bit and K types (`tools/reference/make_gguf_kquants.py`): decoded bit for bit as the package does, and
/// held in our forms as `GgmlType::stored_as` says: Q5_0 exactly, Q6_K and Q4_K within the f16 rounding of
/// their sub-block scales and minimums, Q5_1 and Q5_K widened to f32.
#[test]
fn five_bit_and_k_types_dequantize_as_the_gguf_package_does() {
    let fixture = read_json("tests/fixtures/gguf-kquants.json");
    let bytes = std::fs::read(repo_path("tests/fixtures/gguf-kquants.gguf")).unwrap();
    let file = GgufFile::parse(&bytes).unwrap();
    let expected = fixture["tensors"].as_array().unwrap();
    assert_eq!(file.tensors.len(), expected.len());
    let mut kinds = Vec::new();
    for (info, want) in file.tensors.iter().zip(expected) {
        let kind = format!("{:?}", info.kind).to_uppercase();
        assert_eq!(
            (info.name.as_str(), kind.as_str()),
            (want["name"].as_str().unwrap(), want["type"].as_str().unwrap())
        );
        let values = dequantize(info.kind, file.data(info));
        assert_eq!(values, f32_vec(&want["values"]), "{}: values", info.name);
        let stored = to_tensor_data(info.kind, file.data(info), info.shape(), &info.name).unwrap();
        match (kind.as_str(), stored) {
            ("Q5_0", TensorData::Quant(q)) => {
                assert_eq!((q.scheme, q.group_size), (QuantScheme::Q8, 32));
                assert_eq!(q.dequantize(), values, "Q5_0 is exact as q8");
            }
            ("Q6_K" | "Q4_K", TensorData::Quant(q)) => {
                let scheme = if kind == "Q6_K" { (QuantScheme::Q8, 16) } else { (QuantScheme::Q4A, 32) };
                assert_eq!((q.scheme, q.group_size), scheme);
                // Each value is level · scale (− min): the f16 roundings move it by at most 2⁻¹¹ of each term,
                // and both terms are at most the group's largest magnitude plus its minimum.
                let max = values.iter().fold(0f32, |m, v| m.max(v.abs()));
                for (i, (got, want)) in q.dequantize().iter().zip(&values).enumerate() {
                    assert!((got - want).abs() <= 2.0 * max * 2f32.powi(-11), "{kind} value {i}: {got} vs {want}");
                }
                assert_ne!(q.dequantize(), vec![0.0; values.len()]);
            }
            ("Q5_1" | "Q5_K", TensorData::F32 { values: widened, .. }) => assert_eq!(widened, values),
            (other, _) => panic!("{other} is not held in the form stored_as names"),
        }
        kinds.push(kind);
    }
    assert_eq!(kinds, ["Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"]);
}
