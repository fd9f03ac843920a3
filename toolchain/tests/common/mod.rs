//! Helpers shared by the fuzzer (`fuzz.rs`) and the malformed-input corpus generator (`fuzz_corpus.rs`).
#![allow(dead_code)]

use std::io::Write;

/// The `.npy` bytes of a float32 array of `shape`.
pub fn npy_bytes(data: &[f32], shape: &[usize]) -> Vec<u8> {
    use ndarray_npy::WriteNpyExt;
    let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), data.to_vec()).unwrap();
    let mut out = Vec::new();
    a.write_npy(&mut out).unwrap();
    out
}

/// A zip of `members` (name, bytes), deflated or stored, with a fixed timestamp so that the bytes are
/// reproducible.
pub fn zip_of(members: &[(String, Vec<u8>)], deflate: bool) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(zip::DateTime::default());
    for (n, b) in members {
        z.start_file(n.as_str(), opts).unwrap();
        z.write_all(b).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// The bytes of the ONNX model at `path` with every initializer's external data (read from the file beside it)
/// moved inside, so the model stands alone (fuzz seeds, corpus cases).
pub fn inline_external_data(path: &std::path::Path) -> Vec<u8> {
    use pact_toolchain::import::onnx::proto::ModelProto;
    use prost::Message;
    let mut m = ModelProto::decode(&std::fs::read(path).unwrap()[..]).unwrap();
    for t in &mut m.graph.as_mut().unwrap().initializer {
        if t.data_location != 1 {
            continue;
        }
        let get = |k: &str| t.external_data.iter().find(|e| e.key == k).map(|e| e.value.clone());
        let data = std::fs::read(path.with_file_name(get("location").unwrap())).unwrap();
        let off: usize = get("offset").map_or(0, |v| v.parse().unwrap());
        let len: usize = get("length").map_or(data.len() - off, |v| v.parse().unwrap());
        t.raw_data = data[off..off + len].to_vec();
        t.external_data.clear();
        t.data_location = 0;
    }
    m.encode_to_vec()
}
