//! Accuracy of the float, fake-quant and integer models on a data set, and their agreement.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::float::FloatModel;
use crate::forward::{float_forward, FakeQuant};
use crate::golden::{argmax, Golden};
use crate::qmodel::QModel;
use rayon::prelude::*;

/// Per-image predictions of the three models.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prediction {
    pub label: usize,
    pub float: Option<usize>,
    pub fake_quant: usize,
    pub integer: usize,
}

/// The result of [`evaluate`].
#[derive(Clone, Debug)]
pub struct EvalReport {
    pub predictions: Vec<Prediction>,
}

/// Percentage helper.
pub fn pct(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

impl EvalReport {
    /// Images evaluated.
    pub fn len(&self) -> usize {
        self.predictions.len()
    }
    /// True if no image was evaluated.
    pub fn is_empty(&self) -> bool {
        self.predictions.is_empty()
    }
    /// Correct float predictions (None without a float model).
    pub fn float_correct(&self) -> Option<usize> {
        let p = &self.predictions;
        if p.iter().any(|x| x.float.is_none()) {
            return None;
        }
        Some(p.iter().filter(|x| x.float == Some(x.label)).count())
    }
    /// Correct fake-quant predictions.
    pub fn fake_quant_correct(&self) -> usize {
        self.predictions.iter().filter(|x| x.fake_quant == x.label).count()
    }
    /// Correct integer predictions.
    pub fn integer_correct(&self) -> usize {
        self.predictions.iter().filter(|x| x.integer == x.label).count()
    }
    /// Images where fake-quant and integer top-1 agree.
    pub fn agreement(&self) -> usize {
        self.predictions.iter().filter(|x| x.fake_quant == x.integer).count()
    }
}

/// Check that a data set's images fit a model input of shape `shape`.
pub fn check_shape(ds: &Dataset, shape: [usize; 3]) -> Result<()> {
    if ds.shape != shape {
        return Err(Error::config(format!(
            "data set '{}' has {}×{}×{} images, the model takes {}×{}×{}",
            ds.name, ds.shape[0], ds.shape[1], ds.shape[2], shape[0], shape[1], shape[2]
        )));
    }
    Ok(())
}

/// Evaluate every image of `ds` with the integer golden model, the fake-quant model and (if given) the float
/// model, in parallel. `tick` is called once per image (for progress bars).
pub fn evaluate(float: Option<&FloatModel>, q: &QModel, ds: &Dataset, tick: &(dyn Fn() + Sync)) -> Result<EvalReport> {
    check_shape(ds, q.input.shape)?;
    if let Some(f) = float {
        check_shape(ds, f.input.shape)?;
        f.shapes()?;
    }
    let golden = Golden::new(q);
    let fq = FakeQuant::new(q);
    let predictions = (0..ds.len())
        .into_par_iter()
        .map(|i| {
            let img = ds.image(i);
            let fl = match float {
                Some(f) => Some(argmax(&float_forward(f, img)?)),
                None => None,
            };
            let p = Prediction {
                label: ds.labels[i] as usize,
                float: fl,
                fake_quant: argmax(&fq.forward(img)),
                integer: golden.infer(img).class,
            };
            tick();
            Ok(p)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(EvalReport { predictions })
}

/// The predictions CSV (`index,label,prediction`, integer model), as bytes.
pub fn predictions_csv(r: &EvalReport) -> Vec<u8> {
    let mut s = String::from("index,label,prediction\n");
    for (i, p) in r.predictions.iter().enumerate() {
        s.push_str(&format!("{i},{},{}\n", p.label, p.integer));
    }
    s.into_bytes()
}
