//! Data set loading: embedded sets, Fashion-MNIST from the Debian package, CSV/IDX files written here, and
//! every malformed input rejected with a one-line message naming the file.

use flate2::write::GzEncoder;
use flate2::Compression;
use pact_toolchain::data::{self, load, DataSpec, Dataset, Split};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::path::{Path, PathBuf};

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx3(n: usize, h: usize, w: usize, data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 3];
    for d in [n, h, w] {
        v.extend_from_slice(&(d as u32).to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn idx1(labels: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, 1];
    v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    v.extend_from_slice(labels);
    v
}

/// A small random data set of `n` 1×h×w images with labels 0..classes.
fn random_set(seed: u64, n: usize, h: usize, w: usize, classes: u8) -> (Vec<u8>, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let images = (0..n * h * w).map(|_| rng.gen()).collect();
    let labels = (0..n).map(|_| rng.gen_range(0..classes)).collect();
    (images, labels)
}

fn csv_text(images: &[u8], labels: &[u8], pixels: usize) -> String {
    let mut s = String::new();
    for (i, l) in labels.iter().enumerate() {
        for p in &images[i * pixels..(i + 1) * pixels] {
            s.push_str(&format!("{p},"));
        }
        s.push_str(&format!("{l}\n"));
    }
    s
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn path_spec(p: &Path) -> DataSpec {
    DataSpec::Path(p.to_path_buf())
}

/// The error of loading `p`, checked to be one line naming the file, and to contain every `parts` string.
fn load_err(p: &Path, split: Split, parts: &[&str]) -> String {
    let e = load(&path_spec(p), split)
        .expect_err("malformed input must be rejected")
        .to_string();
    eprintln!("{e}");
    assert!(!e.contains('\n'), "multi-line error: {e}");
    let name = p.file_name().unwrap().to_string_lossy();
    assert!(e.contains(name.as_ref()), "error does not name {name}: {e}");
    for part in parts {
        assert!(e.contains(part), "error lacks {part:?}: {e}");
    }
    e
}

/// Sorted (label, image) pairs, for comparing sets of samples.
fn samples(ds: &Dataset) -> Vec<(u8, Vec<u8>)> {
    let mut v: Vec<_> = (0..ds.len()).map(|i| (ds.labels[i], ds.image(i).to_vec())).collect();
    v.sort();
    v
}

#[test]
fn mnist5k_counts_balance_and_split() {
    let all = load(&DataSpec::Mnist5k, Split::All).unwrap();
    assert_eq!(all.len(), 5000);
    assert_eq!(all.shape, [1, 28, 28]);
    assert_eq!(all.pixels_per_image(), 784);
    assert_eq!(all.images.len(), 5000 * 784);
    assert_eq!(all.max_value, 255);
    assert_eq!(all.classes, 10);
    assert_eq!(all.name, "mnist5k");
    assert_eq!(all.class_counts(), vec![500; 10]);
    assert_eq!(*all.images.iter().max().unwrap(), 255);
    // File order: sorted by label.
    assert!(all.labels.windows(2).all(|w| w[0] <= w[1]));

    let train = load(&DataSpec::Mnist5k, Split::Train).unwrap();
    let test = load(&DataSpec::Mnist5k, Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (4000, 1000));
    assert_eq!(
        (train.shape, test.shape, train.classes, test.max_value),
        ([1, 28, 28], [1, 28, 28], 10, 255)
    );
    // Shuffled: every class is present in both parts, roughly in proportion.
    for (c, (&a, &b)) in train.class_counts().iter().zip(&test.class_counts()).enumerate() {
        assert_eq!(a + b, 500, "class {c}");
        assert!((330..=470).contains(&a), "class {c}: {a} train samples");
    }
    // The first 100 test samples (what --limit 100 keeps) are not all one class.
    assert!(test.labels[..100].iter().any(|&l| l != test.labels[0]));
    // Train + test = all, as multisets of samples (hence disjoint, since all has no duplicate samples).
    let mut joined = samples(&train);
    joined.extend(samples(&test));
    joined.sort();
    let all_samples = samples(&all);
    assert!(
        all_samples.windows(2).all(|w| w[0] != w[1]),
        "mnist5k has duplicate samples"
    );
    assert_eq!(joined, all_samples);
    // Deterministic across calls.
    assert_eq!(load(&DataSpec::Mnist5k, Split::Train).unwrap(), train);
    assert_eq!(load(&DataSpec::Mnist5k, Split::Test).unwrap(), test);
}

#[test]
fn digits_counts_and_split() {
    let all = load(&DataSpec::Digits, Split::All).unwrap();
    assert_eq!(all.len(), 1797);
    assert_eq!((all.shape, all.max_value, all.classes), ([1, 8, 8], 16, 10));
    assert!(all.images.iter().all(|&p| p <= 16));
    assert!(
        all.class_counts().iter().all(|&c| (174..=183).contains(&c)),
        "{:?}",
        all.class_counts()
    );
    assert_eq!(all.class_counts().iter().sum::<usize>(), 1797);
    // First row of the file.
    assert_eq!(&all.image(0)[..8], &[0, 0, 5, 13, 9, 1, 0, 0]);
    assert_eq!(all.labels[0], 0);
    let train = load(&DataSpec::Digits, Split::Train).unwrap();
    let test = load(&DataSpec::Digits, Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (1437, 360));
    let mut joined = samples(&train);
    joined.extend(samples(&test));
    joined.sort();
    assert_eq!(joined, samples(&all));
    assert_eq!(load(&DataSpec::Digits, Split::Test).unwrap(), test);
}

#[test]
fn truncate_keeps_the_first_samples() {
    let mut ds = load(&DataSpec::Digits, Split::Test).unwrap();
    let first: Vec<u8> = ds.image(9).to_vec();
    let labels = ds.labels[..10].to_vec();
    ds.truncate(10);
    assert_eq!(ds.len(), 10);
    assert_eq!(ds.images.len(), 640);
    assert_eq!(ds.image(9), &first[..]);
    assert_eq!(ds.labels, labels);
    ds.truncate(100);
    assert_eq!(ds.len(), 10);
    ds.truncate(0);
    assert!(ds.is_empty());
}

#[test]
fn spec_and_split_parse() {
    assert_eq!("mnist5k".parse::<DataSpec>().unwrap(), DataSpec::Mnist5k);
    assert_eq!("digits".parse::<DataSpec>().unwrap(), DataSpec::Digits);
    assert_eq!("fashion-mnist".parse::<DataSpec>().unwrap(), DataSpec::FashionMnist);
    assert_eq!("x/y.csv".parse::<DataSpec>().unwrap(), DataSpec::Path("x/y.csv".into()));
    assert_eq!(DataSpec::FashionMnist.to_string(), "fashion-mnist");
    assert_eq!("test".parse::<Split>().unwrap(), Split::Test);
    assert_eq!("all".parse::<Split>().unwrap(), Split::All);
    assert!("valid"
        .parse::<Split>()
        .unwrap_err()
        .to_string()
        .contains("train, test or all"));
}

/// Peak resident memory of this process in kB (Linux), if known.
fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn fashion_mnist_from_the_debian_package() {
    let dir = Path::new(data::FASHION_MNIST_DIR);
    if !dir.is_dir() {
        pact_sim::require::skip_or_fail(&format!(
            "{} missing (apt-get install dataset-fashion-mnist)",
            dir.display()
        ));
        let e = load(&DataSpec::FashionMnist, Split::Test).unwrap_err().to_string();
        assert!(e.contains("apt-get install dataset-fashion-mnist"), "{e}");
        return;
    }
    let test = load(&DataSpec::FashionMnist, Split::Test).unwrap();
    assert_eq!(test.len(), 10_000);
    assert_eq!((test.shape, test.max_value, test.classes), ([1, 28, 28], 255, 10));
    assert_eq!(test.name, "fashion-mnist");
    assert_eq!(test.class_counts(), vec![1000; 10]);
    if let Some(kb) = peak_rss_kb() {
        assert!(
            kb < 500_000,
            "peak memory {kb} kB after loading the Fashion-MNIST test set"
        );
    }
    let train = load(&DataSpec::FashionMnist, Split::Train).unwrap();
    assert_eq!(train.len(), 60_000);
    assert_eq!(train.class_counts(), vec![6000; 10]);
    let mut all = load(&DataSpec::FashionMnist, Split::All).unwrap();
    assert_eq!(all.len(), 70_000);
    assert_eq!(all.image(60_000), test.image(0));
    assert_eq!(all.image(59_999), train.image(59_999));
    all.truncate(5);
    assert_eq!(all.labels, train.labels[..5]);
}

#[test]
fn fashion_mnist_missing_names_the_apt_package() {
    let tmp = tempfile::tempdir().unwrap();
    for dir in [tmp.path().join("nowhere"), tmp.path().to_path_buf()] {
        let e = data::load_fashion_mnist_from(&dir, Split::Test)
            .unwrap_err()
            .to_string();
        assert!(e.contains("apt-get install dataset-fashion-mnist"), "{e}");
        assert!(e.contains(&dir.display().to_string()), "{e}");
    }
}

#[test]
fn csv_files_load_back_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (images, labels) = random_set(1, 23, 5, 5, 7);
    let text = csv_text(&images, &labels, 25);
    for (name, bytes) in [
        ("set.csv", text.clone().into_bytes()),
        ("set.csv.gz", gz(text.as_bytes())),
    ] {
        let p = write(tmp.path(), name, &bytes);
        let ds = load(&path_spec(&p), Split::All).unwrap();
        assert_eq!(ds.images, images);
        assert_eq!(ds.labels, labels);
        assert_eq!((ds.shape, ds.max_value, ds.name.as_str()), ([1, 5, 5], 255, "set"));
        assert_eq!(ds.classes, *labels.iter().max().unwrap() as usize + 1);
        // Single files split 80/20 like the embedded sets.
        let train = load(&path_spec(&p), Split::Train).unwrap();
        let test = load(&path_spec(&p), Split::Test).unwrap();
        assert_eq!((train.len(), test.len()), (18, 5));
        let mut joined = samples(&train);
        joined.extend(samples(&test));
        joined.sort();
        assert_eq!(joined, samples(&ds));
    }
    // CRLF line ends, spaces around values, trailing blank lines; small values give max_value 16.
    let p = write(tmp.path(), "small.csv", b"0, 16,3,4 ,1\r\n5,6,7,8,0\r\n\r\n\n");
    let ds = load(&path_spec(&p), Split::All).unwrap();
    assert_eq!(ds.images, vec![0, 16, 3, 4, 5, 6, 7, 8]);
    assert_eq!(ds.labels, vec![1, 0]);
    assert_eq!((ds.shape, ds.max_value, ds.classes), ([1, 2, 2], 16, 2));
}

#[test]
fn idx_files_and_directories_load_back_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (tr_img, tr_lab) = random_set(2, 30, 4, 6, 10);
    let (te_img, te_lab) = random_set(3, 9, 4, 6, 10);
    // Directory: train pair gzip-compressed, t10k pair plain.
    let dir = tmp.path().join("set");
    std::fs::create_dir(&dir).unwrap();
    write(&dir, "train-images-idx3-ubyte.gz", &gz(&idx3(30, 4, 6, &tr_img)));
    write(&dir, "train-labels-idx1-ubyte.gz", &gz(&idx1(&tr_lab)));
    write(&dir, "t10k-images-idx3-ubyte", &idx3(9, 4, 6, &te_img));
    write(&dir, "t10k-labels-idx1-ubyte", &idx1(&te_lab));
    let train = load(&path_spec(&dir), Split::Train).unwrap();
    assert_eq!(
        (train.images.as_slice(), train.labels.as_slice()),
        (tr_img.as_slice(), tr_lab.as_slice())
    );
    assert_eq!(
        (train.shape, train.max_value, train.name.as_str()),
        ([1, 4, 6], 255, "set")
    );
    let test = load(&path_spec(&dir), Split::Test).unwrap();
    assert_eq!(
        (test.images.as_slice(), test.labels.as_slice()),
        (te_img.as_slice(), te_lab.as_slice())
    );
    let all = load(&path_spec(&dir), Split::All).unwrap();
    assert_eq!(all.len(), 39);
    assert_eq!(&all.images[..tr_img.len()], &tr_img[..]);
    assert_eq!(&all.images[tr_img.len()..], &te_img[..]);
    assert_eq!(all.classes, *tr_lab.iter().chain(&te_lab).max().unwrap() as usize + 1);
    // A single images file finds its labels (compressed or not).
    let one = load(&path_spec(&dir.join("train-images-idx3-ubyte.gz")), Split::All).unwrap();
    assert_eq!((one.images, one.labels), (tr_img.clone(), tr_lab.clone()));
    let one = load(&path_spec(&dir.join("t10k-images-idx3-ubyte")), Split::All).unwrap();
    assert_eq!((one.images, one.labels), (te_img, te_lab));
    // Mixed compression between images and labels.
    let mixed = tmp.path().join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    write(&mixed, "train-images.idx3-ubyte", &idx3(30, 4, 6, &tr_img));
    write(&mixed, "train-labels.idx1-ubyte.gz", &gz(&idx1(&tr_lab)));
    let one = load(&path_spec(&mixed.join("train-images.idx3-ubyte")), Split::All).unwrap();
    assert_eq!((one.images, one.labels), (tr_img, tr_lab));
    // A directory without the needed files names what is missing.
    let e = load(&path_spec(&mixed), Split::Test).unwrap_err().to_string();
    assert!(e.contains("t10k-images-idx3-ubyte") && e.contains("mixed"), "{e}");
}

#[test]
fn malformed_csv_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ok_row = "1,2,3,4,5\n";
    load_err(
        &write(d, "columns.csv", format!("{ok_row}1,2,3,5\n").as_bytes()),
        Split::All,
        &["line 2", "4 columns", "expected 5"],
    );
    load_err(
        &write(d, "pixel.csv", format!("{ok_row}1,256,3,4,5\n").as_bytes()),
        Split::All,
        &["line 2, column 2", "256", "0..=255"],
    );
    load_err(
        &write(d, "nonint.csv", format!("{ok_row}1,2,x3,4,5\n").as_bytes()),
        Split::All,
        &["line 2, column 3", "\"x3\"", "not a non-negative integer"],
    );
    load_err(
        &write(d, "float.csv", b"1,2.5,3,4,5\n"),
        Split::All,
        &["line 1, column 2", "\"2.5\""],
    );
    load_err(
        &write(d, "negative.csv", b"1,-2,3,4,5\n"),
        Split::All,
        &["line 1, column 2", "\"-2\""],
    );
    load_err(
        &write(d, "empty_field.csv", b"1,,3,4,5\n"),
        Split::All,
        &["line 1, column 2"],
    );
    load_err(
        &write(d, "label.csv", format!("{ok_row}{ok_row}1,2,3,4,256\n").as_bytes()),
        Split::All,
        &["line 3", "label 256"],
    );
    load_err(
        &write(d, "huge.csv", b"1,2,3,4,99999999999999999999\n"),
        Split::All,
        &["line 1", "label 99999999999999999999"],
    );
    load_err(
        &write(d, "square.csv", b"1,2,3,4\n"),
        Split::All,
        &["3 pixel columns", "square"],
    );
    load_err(&write(d, "onecol.csv", b"1\n2\n"), Split::All, &["line 1", "1 column"]);
    load_err(
        &write(d, "header.csv", format!("p0,p1,p2,p3,label\n{ok_row}").as_bytes()),
        Split::All,
        &["line 1, column 1", "header row"],
    );
    load_err(
        &write(d, "blank.csv", format!("{ok_row}\n{ok_row}").as_bytes()),
        Split::All,
        &["line 2", "empty line"],
    );
    load_err(&write(d, "empty.csv", b""), Split::All, &["is empty"]);
    load_err(&write(d, "blank_only.csv", b"\n\n \n"), Split::All, &["no samples"]);
    load_err(&write(d, "empty.csv.gz", &gz(b"")), Split::All, &["no samples"]);
    // Truncated gzip: cut in the middle of the deflate stream and just before the trailer.
    let big = csv_text(&random_set(4, 50, 4, 4, 3).0, &random_set(4, 50, 4, 4, 3).1, 16);
    let z = gz(big.as_bytes());
    load_err(&write(d, "cut.csv.gz", &z[..z.len() / 2]), Split::All, &["gzip"]);
    load_err(
        &write(d, "cut_trailer.csv.gz", &z[..z.len() - 4]),
        Split::All,
        &["gzip"],
    );
    let mut corrupt = z.clone();
    let n = corrupt.len();
    corrupt[n - 6] ^= 0xff; // CRC
    load_err(&write(d, "crc.csv.gz", &corrupt), Split::All, &["gzip"]);
    load_err(
        &write(
            d,
            "lfs.csv.gz",
            b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n",
        ),
        Split::All,
        &["Git LFS pointer"],
    );
    load_err(
        &d.join("missing.csv"),
        Split::All,
        &["no such file", "mnist5k, digits, fashion-mnist"],
    );
}

#[test]
fn malformed_idx_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let img = vec![7u8; 3 * 2 * 2];
    let lab = [0u8, 1, 2];
    let pair = |stem: &str, images: &[u8], labels: &[u8]| -> PathBuf {
        write(d, &format!("{stem}-labels-idx1-ubyte"), labels);
        write(d, &format!("{stem}-images-idx3-ubyte"), images)
    };
    // Sanity: the good pair loads.
    let good = pair("good", &idx3(3, 2, 2, &img), &idx1(&lab));
    assert_eq!(load(&path_spec(&good), Split::All).unwrap().len(), 3);

    let mut magic = idx3(3, 2, 2, &img);
    magic[1] = 1;
    load_err(
        &pair("magic", &magic, &idx1(&lab)),
        Split::All,
        &["not an IDX file", "00 01 08 03"],
    );
    let mut ty = idx3(3, 2, 2, &img);
    ty[2] = 0x0d;
    load_err(&pair("type", &ty, &idx1(&lab)), Split::All, &["element type 0x0d"]);
    load_err(
        &pair("short", &idx3(4, 2, 2, &img), &idx1(&lab)),
        Split::All,
        &["need 16 data bytes", "only 12"],
    );
    load_err(
        &pair("shortgz", &gz(&idx3(4, 2, 2, &img)), &idx1(&lab)),
        Split::All,
        &["truncated", "16 data bytes", "only 12"],
    );
    load_err(
        &pair("extra", &[idx3(3, 2, 2, &img), vec![1]].concat(), &idx1(&lab)),
        Split::All,
        &["extra bytes"],
    );
    // Dimensions whose product overflows or exceeds the cap, gzip or not.
    let mut over = vec![0, 0, 8, 3];
    for _ in 0..3 {
        over.extend_from_slice(&u32::MAX.to_be_bytes());
    }
    load_err(&pair("overflow", &over, &idx1(&lab)), Split::All, &["exceed", "limit"]);
    load_err(
        &pair("overflowgz", &gz(&over), &idx1(&lab)),
        Split::All,
        &["exceed", "limit"],
    );
    let big = idx3(1 << 20, 1 << 6, 1 << 6, &[]);
    load_err(&pair("big", &gz(&big), &idx1(&lab)), Split::All, &["exceed", "limit"]);
    load_err(
        &pair("header", &[0, 0, 8, 3, 0, 0], &idx1(&lab)),
        Split::All,
        &["truncated IDX header"],
    );
    let e = load_err(
        &pair("count", &idx3(3, 2, 2, &img), &idx1(&lab[..2])),
        Split::All,
        &["2 labels", "3 images"],
    );
    assert!(e.contains("count-labels-idx1-ubyte"), "{e}");
    // The labels file itself is malformed.
    let mut bad_labels = idx1(&lab);
    bad_labels[0] = 9;
    let e = load(
        &path_spec(&pair("badlab", &idx3(3, 2, 2, &img), &bad_labels)),
        Split::All,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("badlab-labels-idx1-ubyte") && e.contains("not an IDX file"),
        "{e}"
    );
    let e = load(
        &path_spec(&pair("dims", &idx3(3, 2, 2, &img), &idx3(3, 1, 1, &lab))),
        Split::All,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("dims-labels-idx1-ubyte") && e.contains("1 dimension"), "{e}");
    // A labels file passed as the images file, a missing labels file, an unguessable name, no samples.
    load_err(
        &d.join("good-labels-idx1-ubyte"),
        Split::All,
        &["3 dimensions", "labels file"],
    );
    load_err(
        &write(d, "lonely-images-idx3-ubyte", &idx3(3, 2, 2, &img)),
        Split::All,
        &["labels file not found", "lonely-labels-idx1-ubyte"],
    );
    load_err(
        &write(d, "pixels.bin", &idx3(3, 2, 2, &img)),
        Split::All,
        &["does not contain 'images'"],
    );
    load_err(
        &pair("zero", &idx3(0, 2, 2, &[]), &idx1(&[])),
        Split::All,
        &["no samples"],
    );
    load_err(&pair("flat", &idx3(3, 0, 2, &[]), &idx1(&lab)), Split::All, &["0×2"]);
}

/// Random corruptions of valid files never panic (each load returns Ok or Err).
#[test]
fn corrupted_inputs_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (img, lab) = random_set(5, 6, 3, 3, 4);
    let csv = csv_text(&img, &lab, 9).into_bytes();
    let originals = [
        ("c.csv", csv.clone()),
        ("c.csv.gz", gz(&csv)),
        ("x-images-idx3-ubyte", idx3(6, 3, 3, &img)),
        ("y-images-idx3-ubyte.gz", gz(&idx3(6, 3, 3, &img))),
    ];
    write(d, "x-labels-idx1-ubyte", &idx1(&lab));
    write(d, "y-labels-idx1-ubyte.gz", &gz(&idx1(&lab)));
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    // PACT_FUZZ_ROUNDS=<n> runs more rounds.
    let rounds = std::env::var("PACT_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    for round in 0..rounds {
        let (name, orig) = &originals[round % originals.len()];
        let mut bytes = orig.clone();
        match rng.gen_range(0..3) {
            0 => bytes.truncate(rng.gen_range(0..bytes.len())),
            1 => {
                for _ in 0..rng.gen_range(1..4) {
                    let i = rng.gen_range(0..bytes.len());
                    bytes[i] = rng.gen();
                }
            }
            _ => {
                let i = rng.gen_range(0..bytes.len());
                bytes.insert(i, rng.gen());
            }
        }
        let p = write(d, name, &bytes);
        if let Err(e) = load(&path_spec(&p), Split::All) {
            assert!(!e.to_string().contains('\n'), "multi-line error: {e}");
        }
    }
}

/// A flat-input model (an MLP taking `[N, C·H·W]`) reads images as PyTorch's `flatten` lays them out: channel,
/// then row, then column. Here each pixel encodes its (c, h, w), so the expected order is built independently.
#[test]
fn fit_to_flattens_in_pytorch_order_and_refuses_other_counts() {
    let (c, h, w) = (2, 3, 4);
    let mut pixels = Vec::new();
    for n in 0..2u8 {
        for ci in 0..c as u8 {
            for hi in 0..h as u8 {
                for wi in 0..w as u8 {
                    pixels.push(n * 100 + ci * 30 + hi * 5 + wi);
                }
            }
        }
    }
    let ds = Dataset {
        name: "chw".into(),
        shape: [c, h, w],
        max_value: 255,
        images: pixels,
        labels: vec![0, 1],
        classes: 2,
    };
    let mut flat = ds.clone();
    let note = flat.fit_to([1, 1, c * h * w]).unwrap().expect("a reshape is reported");
    assert!(note.contains("2×3×4") && note.contains("1×1×24"), "{note}");
    assert_eq!(flat.shape, [1, 1, 24]);
    for n in 0..2u8 {
        // torch.arange-style flatten: index = (ci·H + hi)·W + wi.
        let mut want = vec![0u8; c * h * w];
        for ci in 0..c {
            for hi in 0..h {
                for wi in 0..w {
                    want[(ci * h + hi) * w + wi] = n * 100 + ci as u8 * 30 + hi as u8 * 5 + wi as u8;
                }
            }
        }
        assert_eq!(flat.image(n as usize), &want[..], "image {n}");
    }
    let mut same = ds.clone();
    assert_eq!(same.fit_to([c, h, w]).unwrap(), None);
    assert_eq!(same, ds);
    let mut wrong = ds.clone();
    let e = wrong.fit_to([1, 1, 25]).unwrap_err().to_string();
    assert_eq!(e, "data set 'chw' has 2×3×4 images, the model takes 1×1×25");
    assert_eq!(wrong, ds, "a refused reshape leaves the data alone");
}
