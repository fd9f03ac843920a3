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
