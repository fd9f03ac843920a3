//! Data sets of 8-bit images with class labels.
//!
//! Where the samples come from ([`DataSpec`], parsed from the `--data` argument by [`str::parse`]):
//!
//! | spec | what | shape | max value | train / test |
//! |---|---|---|---|---|
//! | `mnist5k` | 5000 MNIST digits embedded in the binary (`data/mnist_5k.csv.gz`) | 1×28×28 | 255 | 4000 / 1000 |
//! | `digits` | 1797 UCI 8×8 digits embedded in the binary (`data/digits.csv.gz`) | 1×8×8 | 16 | 1437 / 360 |
//! | `fashion-mnist` | the Debian package `dataset-fashion-mnist` ([`FASHION_MNIST_DIR`]) | 1×28×28 | 255 | 60000 / 10000 |
//! | anything else | a path, see below | | | |
//!
//! A path may name
//! - a CSV file (`.csv`, optionally gzip-compressed): one sample a line, the pixel values (integers 0..=255)
//!   then the class label (integer 0..=255) in the last column, no header row, no blank lines between samples.
//!   The pixel count must be a perfect square s², giving images of 1×s×s. `max_value` is 16 when no pixel in
//!   the file exceeds 16 (the UCI digits convention) and 255 otherwise.
//! - an IDX images file (`*-images-idx3-ubyte`, optionally `.gz`): the labels are read from the file named
//!   the same with `images` → `labels` and `idx3` → `idx1` (`train-images-idx3-ubyte.gz` →
//!   `train-labels-idx1-ubyte.gz`), compressed or not. `max_value` is 255.
//! - a directory holding the standard IDX files `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
//!   `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte` (each optionally `.gz`): [`Split::Train`] reads the
//!   `train-*` pair, [`Split::Test`] the `t10k-*` pair, [`Split::All`] both (train first).
//!
//! Gzip is recognised by its magic bytes, IDX by its leading zero byte; everything else is parsed as CSV.
//! `classes` is 10 for the built-in sets and the largest label + 1 for paths.
//!
//! Train/test split of the embedded sets and of single files (a directory has its own split): the sample
//! indices `0..n` are shuffled with `ChaCha8Rng::seed_from_u64(`[`SPLIT_SEED`]`)` (rand 0.8
//! `SliceRandom::shuffle`); the first ⌊0.8·n⌋ shuffled indices are [`Split::Train`], the rest
//! [`Split::Test`], both in that shuffled order (so `--limit` keeps a mix of classes). [`Split::All`] is every
//! sample in file order. The split is the same on every call and every platform.
//!
//! Every malformed input gives a one-line [`Error`] naming the file and the line, column or header field at
//! fault; nothing panics on bad input. Files are streamed and decompressed once; the pixel buffer is the only
//! large allocation and is capped at [`MAX_DATA_BYTES`].

use crate::error::{Error, Result};
use crate::fsutil;
use flate2::read::MultiGzDecoder;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Seed of the train/test shuffle (`ChaCha8Rng::seed_from_u64`): the ASCII bytes of "PACT".
pub const SPLIT_SEED: u64 = 0x5041_4354;

/// Where the Debian package `dataset-fashion-mnist` installs its IDX files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Largest pixel buffer a data set may have (2 GiB); larger IDX headers or CSV files are refused.
pub const MAX_DATA_BYTES: usize = 1 << 31;

/// Longest CSV line accepted (16 MiB).
const MAX_LINE_BYTES: usize = 1 << 24;

/// Largest initial allocation made on the word of a file header (the buffer grows past it only as data
/// actually arrives).
const MAX_PREALLOC: usize = 1 << 26;

static MNIST5K_GZ: &[u8] = include_bytes!("../../data/mnist_5k.csv.gz");
static DIGITS_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

/// A set of 8-bit images with class labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// Short name (`mnist5k`, `digits`, `fashion-mnist`, or the file/directory name).
    pub name: String,
    /// Channels, height, width of one image.
    pub shape: [usize; 3],
    /// Largest pixel code of the encoding (255 for 8-bit images, 16 for the UCI digits).
    pub max_value: u8,
    /// All images, `len() × C×H×W` bytes, each image row-major in C, H, W order.
    pub images: Vec<u8>,
    /// One label per image, each `< classes`.
    pub labels: Vec<u8>,
    /// Number of classes.
    pub classes: usize,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels of one image (C·H·W).
    pub fn pixels_per_image(&self) -> usize {
        self.shape.iter().product()
    }

    /// The pixels of sample `i`. Panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        let p = self.pixels_per_image();
        &self.images[i * p..(i + 1) * p]
    }

    /// Keep only the first `n` samples (no-op if there are fewer); used by `--limit`.
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            self.labels.truncate(n);
            self.images.truncate(n * self.pixels_per_image());
        }
    }

    /// Number of samples of each class (`classes` entries).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
    }

    /// Make the images fit a model input of `shape` (C×H×W). Equal shapes: nothing to do, `Ok(None)`. Equal
    /// element counts (C·H·W): the shape becomes `shape` and the bytes stay as they are, which is exactly
    /// PyTorch's `flatten` (each image is row-major in C, H, W order), so an MLP with a flat `[N, 784]` input takes
    /// 1×28×28 images; returns a one-line note saying so (`pact eval -v`, `pact sim` print it). Otherwise an
    /// error naming both shapes.
    pub fn fit_to(&mut self, shape: [usize; 3]) -> Result<Option<String>> {
        if self.shape == shape {
            return Ok(None);
        }
        let dims = |s: [usize; 3]| format!("{}×{}×{}", s[0], s[1], s[2]);
        let (have, want) = (dims(self.shape), dims(shape));
        if self.pixels_per_image() != shape.iter().product::<usize>() {
            return Err(Error::config(format!(
                "data set '{}' has {have} images, the model takes {want}",
                self.name
            )));
        }
        self.shape = shape;
        Ok(Some(format!(
            "data set '{}': {have} images read as {want} (row-major C, H, W order, as PyTorch's flatten)",
            self.name
        )))
    }

    /// The samples at `indices`, in that order.
    fn select(&self, indices: &[usize]) -> Dataset {
        let p = self.pixels_per_image();
        let mut images = Vec::with_capacity(indices.len() * p);
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Dataset {
            name: self.name.clone(),
            shape: self.shape,
            max_value: self.max_value,
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes,
        }
    }
}

/// Which part of a data set to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training part (80 % of a single file, the `train-*` files of a directory).
    Train,
    /// The held-out part (20 % of a single file, the `t10k-*` files of a directory).
    Test,
    /// Everything, in file order.
    All,
}

impl FromStr for Split {
    type Err = Error;
    /// `train`, `test` or `all`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Split::Train),
            "test" => Ok(Split::Test),
            "all" => Ok(Split::All),
            _ => Err(Error::config(format!(
                "unknown split '{s}' (expected train, test or all)"
            ))),
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Test => "test",
            Split::All => "all",
        })
    }
}

/// Where a data set comes from; see the module documentation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DataSpec {
    /// The embedded 5000-image MNIST subset.
    Mnist5k,
    /// The embedded UCI 8×8 digits.
    Digits,
    /// Fashion-MNIST from the Debian package `dataset-fashion-mnist`.
    FashionMnist,
    /// A CSV file, an IDX images file or a directory of IDX files.
    Path(PathBuf),
}

impl FromStr for DataSpec {
    type Err = std::convert::Infallible;
    /// `mnist5k`, `digits`, `fashion-mnist`; anything else is a path.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(match s {
            "mnist5k" => DataSpec::Mnist5k,
            "digits" => DataSpec::Digits,
            "fashion-mnist" => DataSpec::FashionMnist,
            _ => DataSpec::Path(PathBuf::from(s)),
        })
    }
}

impl fmt::Display for DataSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSpec::Mnist5k => f.write_str("mnist5k"),
            DataSpec::Digits => f.write_str("digits"),
            DataSpec::FashionMnist => f.write_str("fashion-mnist"),
            DataSpec::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The images a model is evaluated (or co-simulated) on, as `pact eval` and `pact sim` take them: the test split of
/// a named set, a PATH whole; at most `limit` images; an empty result is an error.
pub fn load_eval(spec: &str, limit: Option<usize>) -> Result<Dataset> {
    let Ok(spec) = spec.parse::<DataSpec>();
    let split = if matches!(spec, DataSpec::Path(_)) {
        Split::All
    } else {
        Split::Test
    };
    let mut ds = load(&spec, split)?;
    if let Some(n) = limit {
        ds.truncate(n);
    }
    if ds.is_empty() {
        return Err(Error::config(format!(
            "data set '{}' has no images (--limit 0?)",
            ds.name
        )));
    }
    Ok(ds)
}

/// Load `split` of the data set `spec`.
pub fn load(spec: &DataSpec, split: Split) -> Result<Dataset> {
    match spec {
        DataSpec::Mnist5k => embedded("mnist5k", "data/mnist_5k.csv.gz", MNIST5K_GZ, [1, 28, 28], 255, split),
        DataSpec::Digits => embedded("digits", "data/digits.csv.gz", DIGITS_GZ, [1, 8, 8], 16, split),
        DataSpec::FashionMnist => load_fashion_mnist_from(Path::new(FASHION_MNIST_DIR), split),
        DataSpec::Path(p) => load_path(p, split),
    }
}

/// Load Fashion-MNIST from the four standard IDX files in `dir` (normally [`FASHION_MNIST_DIR`]). A missing
/// directory or file gives an error telling to `apt-get install dataset-fashion-mnist`.
pub fn load_fashion_mnist_from(dir: &Path, split: Split) -> Result<Dataset> {
    const HINT: &str = "install it with `apt-get install dataset-fashion-mnist`";
    if !dir.is_dir() {
        return Err(Error::file(dir, format!("Fashion-MNIST not found: {HINT}")));
    }
    load_idx_dir(dir, "fashion-mnist", split, Some(10), HINT)
}

/// The train/test part of `ds` (see the module documentation), or `ds` itself for [`Split::All`].
fn apply_split(ds: Dataset, split: Split) -> Dataset {
    let n = ds.len();
    // ⌊0.8·n⌋ without overflow.
    let n_train = n / 5 * 4 + n % 5 * 4 / 5;
    let mut idx: Vec<usize> = (0..n).collect();
    match split {
        Split::All => return ds,
        Split::Train | Split::Test => idx.shuffle(&mut ChaCha8Rng::seed_from_u64(SPLIT_SEED)),
    }
    let part = if split == Split::Train {
        &idx[..n_train]
    } else {
        &idx[n_train..]
    };
    ds.select(part)
}

fn embedded(
    name: &str,
    file: &str,
    gz: &'static [u8],
    shape: [usize; 3],
    max_value: u8,
    split: Split,
) -> Result<Dataset> {
    let mut input = Input {
        path: PathBuf::from(format!("{file} (embedded {name})")),
        gz: true,
        raw_len: None,
        reader: Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(gz))),
    };
    let pixels: usize = shape.iter().product();
    let csv = parse_csv(&mut input, Some(pixels))?;
    if csv.max_pixel > max_value {
        return Err(Error::file(&input.path, format!("a pixel value exceeds {max_value}")));
    }
    let ds = Dataset {
        name: name.into(),
        shape,
        max_value,
        images: csv.images,
        labels: csv.labels,
        classes: 10,
    };
    check_labels(&input.path, &ds.labels, 10)?;
    Ok(apply_split(ds, split))
}

/// An opened input file, decompressed if gzip.
struct Input {
    /// Name used in messages.
    path: PathBuf,
    /// The bytes are gzip-decompressed.
    gz: bool,
    /// Size of the file on disk when it is read uncompressed (lets IDX headers be checked before reading).
    raw_len: Option<u64>,
    reader: Box<dyn BufRead>,
}

impl Input {
    /// Open `path`: reject directories, empty files and Git LFS pointers; decompress gzip.
    fn open(path: &Path) -> Result<Input> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            return Err(Error::file(path, "is a directory, expected a file"));
        }
        let mut prefix = Vec::with_capacity(128);
        (&mut file)
            .take(128)
            .read_to_end(&mut prefix)
            .map_err(|e| Error::io(path, e))?;
        fsutil::reject_lfs_pointer(path, &prefix)?;
        if prefix.is_empty() {
            return Err(Error::file(path, "is empty"));
        }
        let gz = prefix.starts_with(&[0x1f, 0x8b]);
        let raw = io::Cursor::new(prefix).chain(file);
        let reader: Box<dyn BufRead> = if gz {
            Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(raw)))
        } else {
            Box::new(BufReader::with_capacity(1 << 16, raw))
        };
        Ok(Input {
            path: path.to_path_buf(),
            gz,
            raw_len: if gz { None } else { Some(meta.len()) },
            reader,
        })
    }

    /// A read error while decoding this input, as one line naming the file.
    fn read_error(&self, e: io::Error) -> Error {
        let what = if self.gz {
            "truncated or corrupt gzip data"
        } else {
            "read failed"
        };
        Error::file(&self.path, format!("{what}: {}", one_line(&e.to_string())))
    }

    /// The first decoded byte, `None` at end of input.
    fn peek(&mut self) -> Result<Option<u8>> {
        loop {
            match self.reader.fill_buf() {
                Ok(buf) => return Ok(buf.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(e)),
            }
        }
    }
}

/// Collapse any line breaks of a third-party message into spaces.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Result of parsing a CSV file.
struct Csv {
    images: Vec<u8>,
    labels: Vec<u8>,
    pixels: usize,
    max_pixel: u8,
}

/// Parse CSV rows `pixels…,label`; `pixels` fixes the pixel count, otherwise the first row sets it.
fn parse_csv(input: &mut Input, pixels: Option<usize>) -> Result<Csv> {
    let path = input.path.clone();
    let ferr = |msg: String| Error::file(&path, msg);
    let mut out = Csv {
        images: Vec::new(),
        labels: Vec::new(),
        pixels: 0,
        max_pixel: 0,
    };
    let mut cols: Option<usize> = pixels.map(|p| p + 1);
    let mut line = Vec::new();
    // Each field: its value (saturated) and byte range in `line`.
    let mut row: Vec<(u32, usize, usize)> = Vec::new();
    let mut line_no = 0usize;
    let mut blank: Option<usize> = None;
    loop {
        line.clear();
        let res = (&mut input.reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line);
        let n = match res {
            Ok(n) => n,
            Err(e) => return Err(input.read_error(e)),
        };
        if n == 0 {
            break;
        }
        line_no += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if line.len() > MAX_LINE_BYTES {
            return Err(ferr(format!("line {line_no}: longer than {MAX_LINE_BYTES} bytes")));
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            blank.get_or_insert(line_no);
            continue;
        }
        if let Some(b) = blank {
            return Err(ferr(format!("line {b}: empty line between samples")));
        }
        row.clear();
        let mut start = 0;
        for field in line.split(|&b| b == b',') {
            let end = start + field.len();
            match parse_uint(field) {
                Some(v) => row.push((v, start, end)),
                None => {
                    let hint = if line_no == 1 && field.iter().any(u8::is_ascii_alphabetic) {
                        " (the file must not have a header row)"
                    } else {
                        ""
                    };
                    return Err(ferr(format!(
                        "line {line_no}, column {}: {} is not a non-negative integer{hint}",
                        row.len() + 1,
                        show(field)
                    )));
                }
            }
            start = end + 1;
        }
        let want = *cols.get_or_insert(row.len());
        if want < 2 {
            return Err(ferr(format!(
                "line {line_no}: 1 column; expected the pixel values then the label"
            )));
        }
        if row.len() != want {
            return Err(ferr(format!(
                "line {line_no}: {} columns, expected {want} ({} pixels then the label)",
                row.len(),
                want - 1
            )));
        }
        let text = |&(_, s, e): &(u32, usize, usize)| String::from_utf8_lossy(&line[s..e]).trim().to_string();
        let label = row[want - 1];
        if label.0 > 255 {
            return Err(ferr(format!(
                "line {line_no}: label {} is out of range 0..=255",
                text(&label)
            )));
        }
        if let Some(c) = row[..want - 1].iter().position(|f| f.0 > 255) {
            return Err(ferr(format!(
                "line {line_no}, column {}: pixel value {} is out of range 0..=255",
                c + 1,
                text(&row[c])
            )));
        }
        if out.images.len() + (want - 1) > MAX_DATA_BYTES {
            return Err(ferr(format!(
                "line {line_no}: more than {MAX_DATA_BYTES} pixel values in total"
            )));
        }
        for &(v, _, _) in &row[..want - 1] {
            out.images.push(v as u8);
            out.max_pixel = out.max_pixel.max(v as u8);
        }
        out.labels.push(label.0 as u8);
    }
    if out.labels.is_empty() {
        return Err(ferr("contains no samples".into()));
    }
    out.pixels = cols.unwrap_or(1) - 1;
    Ok(out)
}

/// A non-negative decimal integer, surrounding spaces allowed; values above `u32::MAX` saturate.
fn parse_uint(field: &[u8]) -> Option<u32> {
    let t = field.trim_ascii();
    if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        t.iter()
            .fold(0u32, |a, &d| a.saturating_mul(10).saturating_add((d - b'0') as u32)),
    )
}

/// A field quoted for a message (at most 32 bytes).
fn show(field: &[u8]) -> String {
    let cut = &field[..field.len().min(32)];
    let s = String::from_utf8_lossy(cut);
    if cut.len() < field.len() {
        format!("{:?}…", s)
    } else {
        format!("{:?}", s)
    }
}

/// Every label must be below `classes`.
fn check_labels(path: &Path, labels: &[u8], classes: usize) -> Result<()> {
    match labels.iter().position(|&l| l as usize >= classes) {
        Some(i) => Err(Error::file(
            path,
            format!(
                "label {} of sample {} is not a class index below {classes}",
                labels[i],
                i + 1
            ),
        )),
        None => Ok(()),
    }
}

/// Read one IDX file of unsigned bytes: its dimensions and data.
fn read_idx(input: &mut Input) -> Result<(Vec<usize>, Vec<u8>)> {
    let path = input.path.clone();
    let ferr = |msg: String| Error::file(&path, msg);
    let mut magic = [0u8; 4];
    read_full(input, &mut magic, "truncated IDX header")?;
    if magic[0] != 0 || magic[1] != 0 {
        return Err(ferr(format!(
            "not an IDX file (magic bytes {:02x} {:02x} {:02x} {:02x}, expected 00 00 08 0n)",
            magic[0], magic[1], magic[2], magic[3]
        )));
    }
    if magic[2] != 0x08 {
        return Err(ferr(format!(
            "IDX element type 0x{:02x} is not supported (only 0x08, unsigned byte)",
            magic[2]
        )));
    }
    let nd = magic[3] as usize;
    if nd == 0 || nd > 4 {
        return Err(ferr(format!(
            "IDX header declares {nd} dimensions (expected 1 for labels, 3 for images)"
        )));
    }
    let mut dims = Vec::with_capacity(nd);
    for _ in 0..nd {
        let mut b = [0u8; 4];
        read_full(input, &mut b, "truncated IDX header")?;
        dims.push(u32::from_be_bytes(b) as usize);
    }
    let header_len = 4 + 4 * nd;
    let total = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&t| t <= MAX_DATA_BYTES)
        .ok_or_else(|| {
            ferr(format!(
                "IDX header dimensions {dims:?} exceed the {MAX_DATA_BYTES}-byte limit"
            ))
        })?;
    if let Some(raw) = input.raw_len {
        let have = raw.saturating_sub(header_len as u64);
        if (total as u64) > have {
            return Err(ferr(format!(
                "IDX header dimensions {dims:?} need {total} data bytes, the file has only {have}"
            )));
        }
    }
    let mut data = Vec::with_capacity(total.min(MAX_PREALLOC));
    let res = (&mut input.reader).take(total as u64).read_to_end(&mut data);
    if let Err(e) = res {
        return Err(input.read_error(e));
    }
    if data.len() < total {
        return Err(ferr(format!(
            "truncated: IDX header dimensions {dims:?} need {total} data bytes, only {} follow",
            data.len()
        )));
    }
    if input.peek()?.is_some() {
        return Err(ferr(format!(
            "extra bytes after the {total} data bytes the IDX header declares"
        )));
    }
    Ok((dims, data))
}

/// Fill `buf` or fail with `what` (end of input) or a read error.
fn read_full(input: &mut Input, buf: &mut [u8], what: &str) -> Result<()> {
    match input.reader.read_exact(buf) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !input.gz => Err(Error::file(&input.path, what)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            // A gzip stream may also end early; say which.
            Err(Error::file(&input.path, format!("{what} (after decompression)")))
        }
        Err(e) => Err(input.read_error(e)),
    }
}

/// An IDX images file: shape and pixels.
fn load_idx_images(images_path: &Path) -> Result<([usize; 3], Vec<u8>)> {
    let mut input = Input::open(images_path)?;
    let (dims, images) = read_idx(&mut input)?;
    if dims.len() != 3 {
        let hint = if dims.len() == 1 {
            " (this looks like a labels file)"
        } else {
            ""
        };
        return Err(Error::file(
            images_path,
            format!("an IDX images file has 3 dimensions (count, rows, columns), this one {dims:?}{hint}"),
        ));
    }
    if dims[0] == 0 {
        return Err(Error::file(images_path, "contains no samples"));
    }
    if dims[1] == 0 || dims[2] == 0 {
        return Err(Error::file(
            images_path,
            format!("image size {}×{} is empty", dims[1], dims[2]),
        ));
    }
    Ok(([1, dims[1], dims[2]], images))
}

/// An IDX labels file that must hold `count` labels (the images of `images_path`).
fn load_idx_labels(labels_path: &Path, count: usize, images_path: &Path) -> Result<Vec<u8>> {
    let mut input = Input::open(labels_path)?;
    let (dims, labels) = read_idx(&mut input)?;
    if dims.len() != 1 {
        return Err(Error::file(
            labels_path,
            format!("an IDX labels file has 1 dimension, this one {dims:?}"),
        ));
    }
    if labels.len() != count {
        return Err(Error::file(
            labels_path,
            format!(
                "has {} labels but {} has {count} images",
                labels.len(),
                images_path.display()
            ),
        ));
    }
    Ok(labels)
}

/// An IDX images file and its labels file: shape, images, labels.
fn load_idx_pair(images_path: &Path, labels_path: &Path) -> Result<([usize; 3], Vec<u8>, Vec<u8>)> {
    let (shape, images) = load_idx_images(images_path)?;
    let labels = load_idx_labels(labels_path, images.len() / (shape[1] * shape[2]), images_path)?;
    Ok((shape, images, labels))
}

/// `classes` if given (checking the labels), else the largest label + 1.
fn classes_of(path: &Path, labels: &[u8], classes: Option<usize>) -> Result<usize> {
    match classes {
        Some(c) => {
            check_labels(path, labels, c)?;
            Ok(c)
        }
        None => Ok(labels.iter().copied().max().map_or(0, |m| m as usize + 1)),
    }
}

/// The standard IDX pairs of a directory (see the module documentation).
fn load_idx_dir(dir: &Path, name: &str, split: Split, classes: Option<usize>, hint: &str) -> Result<Dataset> {
    let prefixes: &[&str] = match split {
        Split::Train => &["train"],
        Split::Test => &["t10k"],
        Split::All => &["train", "t10k"],
    };
    let find = |stem: String| -> Result<PathBuf> {
        for cand in [format!("{stem}.gz"), stem.clone()] {
            let p = dir.join(&cand);
            if p.is_file() {
                return Ok(p);
            }
        }
        let sep = if hint.is_empty() { "" } else { "; " };
        Err(Error::file(dir, format!("has no {stem} or {stem}.gz{sep}{hint}")))
    };
    let mut out: Option<Dataset> = None;
    for prefix in prefixes {
        let images_path = find(format!("{prefix}-images-idx3-ubyte"))?;
        let labels_path = find(format!("{prefix}-labels-idx1-ubyte"))?;
        let (shape, images, labels) = load_idx_pair(&images_path, &labels_path)?;
        if let Some(c) = classes {
            check_labels(&labels_path, &labels, c)?;
        }
        match &mut out {
            None => {
                out = Some(Dataset {
                    name: name.into(),
                    shape,
                    max_value: 255,
                    images,
                    labels,
                    classes: 0,
                });
            }
            Some(ds) => {
                if ds.shape != shape {
                    return Err(Error::file(
                        &images_path,
                        format!("images are {shape:?}, the train images {:?}", ds.shape),
                    ));
                }
                ds.images.extend_from_slice(&images);
                ds.labels.extend_from_slice(&labels);
            }
        }
    }
    let mut ds = out.ok_or_else(|| Error::file(dir, "no IDX files"))?;
    ds.classes = classes_of(dir, &ds.labels, classes)?;
    Ok(ds)
}

/// The labels file of an IDX images file: `images` → `labels`, `idx3` → `idx1` in the file name, with or
/// without `.gz`.
fn labels_path_for(images: &Path) -> Result<PathBuf> {
    let name = images
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains("images") {
        return Err(Error::file(
            images,
            "is an IDX file whose name does not contain 'images', so its labels file cannot be found \
             (name them like train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz])",
        ));
    }
    let base = name.replace("images", "labels").replace("idx3", "idx1");
    let alt = match base.strip_suffix(".gz") {
        Some(s) => s.to_string(),
        None => format!("{base}.gz"),
    };
    let dir = images.parent().unwrap_or(Path::new(""));
    for cand in [&base, &alt] {
        let p = dir.join(cand);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::file(
        images,
        format!("labels file not found (looked for {base} and {alt} beside it)"),
    ))
}

/// A short name for a path: the file name without `.gz`/`.csv`.
fn short_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.strip_suffix(".csv").unwrap_or(name).to_string()
}

fn load_path(path: &Path, split: Split) -> Result<Dataset> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::file(
                path,
                "no such file or directory (the built-in data sets are mnist5k, digits, fashion-mnist)",
            ))
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    if meta.is_dir() {
        return load_idx_dir(path, &short_name(path), split, None, "");
    }
    let mut input = Input::open(path)?;
    let ds = match input.peek()? {
        None => return Err(Error::file(path, "contains no samples (empty after decompression)")),
        Some(0) => {
            drop(input);
            let (shape, images) = load_idx_images(path)?;
            let labels_path = labels_path_for(path)?;
            let labels = load_idx_labels(&labels_path, images.len() / (shape[1] * shape[2]), path)?;
            let classes = classes_of(path, &labels, None)?;
            Dataset {
                name: short_name(path),
                shape,
                max_value: 255,
                images,
                labels,
                classes,
            }
        }
        Some(_) => {
            let csv = parse_csv(&mut input, None)?;
            let s = csv.pixels.isqrt();
            if s * s != csv.pixels {
                return Err(Error::file(
                    path,
                    format!(
                        "{} pixel columns are not a square image (expected s×s pixel values then the label)",
                        csv.pixels
                    ),
                ));
            }
            let classes = classes_of(path, &csv.labels, None)?;
            let max_value = if csv.max_pixel <= 16 { 16 } else { 255 };
            Dataset {
                name: short_name(path),
                shape: [1, s, s],
                max_value,
                images: csv.images,
                labels: csv.labels,
                classes,
            }
        }
    };
    Ok(apply_split(ds, split))
}
