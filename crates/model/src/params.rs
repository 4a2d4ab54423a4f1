//! Named parameters in a stable order, and their view as one flat `f32` vector.
//!
//! The order in which a model registers its parameters is the order of the flat vector
//! (for the Llama model: embeddings, then each layer, then the final norm and head). That order
//! is what the coordinator and trainers agree on when they exchange pseudo-gradients.

use candle_core::{DType, Device, Tensor, Var};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::init::NormalInit;
use crate::{ModelError, Result};

/// How a freshly registered parameter is filled.
#[derive(Debug, Clone, Copy)]
pub enum Fill {
    /// N(0, std²).
    Normal(f64),
    /// All ones (norm gains).
    Ones,
    /// All zeros (biases).
    Zeros,
}

/// Where parameter values come from when a model is built.
pub enum Init<'a> {
    /// Seeded random initialisation.
    Random { seed: u64 },
    /// Named tensors loaded from a checkpoint at `path` (named in errors).
    Tensors {
        tensors: &'a HashMap<String, Tensor>,
        path: &'a Path,
    },
}

/// One named trainable tensor.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub var: Var,
}

/// The trainable parameters of a model, in registration order.
#[derive(Debug)]
pub struct ParamStore {
    params: Vec<Param>,
    device: Device,
    dtype: DType,
}

impl ParamStore {
    /// An empty f32 store.
    pub fn new(device: &Device) -> Self {
        Self::with_dtype(device, DType::F32)
    }

    /// An empty store whose parameters are kept in `dtype` (f64 for gradient checks).
    pub fn with_dtype(device: &Device, dtype: DType) -> Self {
        Self {
            params: Vec::new(),
            device: device.clone(),
            dtype,
        }
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Register a parameter and return the tensor the model computes with (it shares storage
    /// with the variable, so optimiser updates are seen by the model).
    pub fn register(
        &mut self,
        init: &mut InitState<'_>,
        name: &str,
        shape: &[usize],
        fill: Fill,
    ) -> Result<Tensor> {
        let tensor = init
            .tensor(name, shape, fill, &self.device)?
            .to_dtype(self.dtype)?;
        let var = Var::from_tensor(&tensor)?;
        let t = var.as_tensor().clone();
        self.params.push(Param {
            name: name.to_string(),
            var,
        });
        Ok(t)
    }

    pub fn params(&self) -> &[Param] {
        &self.params
    }

    pub fn vars(&self) -> Vec<Var> {
        self.params.iter().map(|p| p.var.clone()).collect()
    }

    /// Total number of scalar parameters.
    pub fn num_elements(&self) -> usize {
        self.params.iter().map(|p| p.var.elem_count()).sum()
    }

    /// All parameters as one flat vector, in registration order.
    pub fn flatten(&self) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(self.num_elements());
        for p in &self.params {
            out.extend(
                p.var
                    .flatten_all()?
                    .to_dtype(DType::F32)?
                    .to_vec1::<f32>()?,
            );
        }
        Ok(out)
    }

    /// Overwrite every parameter from a flat vector (the inverse of [`Self::flatten`]).
    pub fn load_flat(&self, flat: &[f32]) -> Result<()> {
        let expected = self.num_elements();
        if flat.len() != expected {
            return Err(ModelError::FlatLength {
                got: flat.len(),
                expected,
            });
        }
        let mut offset = 0;
        for p in &self.params {
            let n = p.var.elem_count();
            let t = Tensor::from_slice(&flat[offset..offset + n], p.var.shape(), &self.device)?
                .to_dtype(p.var.dtype())?;
            p.var.set(&t)?;
            offset += n;
        }
        Ok(())
    }

    /// Split a flat vector into named tensors (for checkpoints and inspection).
    pub fn unflatten(&self, flat: &[f32]) -> Result<Vec<(String, Tensor)>> {
        let expected = self.num_elements();
        if flat.len() != expected {
            return Err(ModelError::FlatLength {
                got: flat.len(),
                expected,
            });
        }
        let mut offset = 0;
        let mut out = Vec::with_capacity(self.params.len());
        for p in &self.params {
            let n = p.var.elem_count();
            let t = Tensor::from_slice(&flat[offset..offset + n], p.var.shape(), &self.device)?;
            out.push((p.name.clone(), t));
            offset += n;
        }
        Ok(out)
    }

    /// Current values as named tensors.
    pub fn named_tensors(&self) -> HashMap<String, Tensor> {
        self.params
            .iter()
            .map(|p| (p.name.clone(), p.var.as_tensor().clone()))
            .collect()
    }
}

/// Stateful helper that hands out initial values while a model registers its parameters.
pub struct InitState<'a> {
    source: InitSource<'a>,
}

enum InitSource<'a> {
    Random(Box<NormalInit>),
    Tensors {
        tensors: &'a HashMap<String, Tensor>,
        path: PathBuf,
    },
}

impl<'a> InitState<'a> {
    pub fn new(init: Init<'a>) -> Self {
        let source = match init {
            Init::Random { seed } => InitSource::Random(Box::new(NormalInit::new(seed))),
            Init::Tensors { tensors, path } => InitSource::Tensors {
                tensors,
                path: path.to_path_buf(),
            },
        };
        Self { source }
    }

    fn tensor(&mut self, name: &str, shape: &[usize], fill: Fill, dev: &Device) -> Result<Tensor> {
        match &mut self.source {
            InitSource::Random(rng) => {
                let n: usize = shape.iter().product();
                let values = match fill {
                    Fill::Normal(std) => rng.normal(n, std),
                    Fill::Ones => vec![1.0; n],
                    Fill::Zeros => vec![0.0; n],
                };
                Ok(Tensor::from_vec(values, shape, dev)?)
            }
            InitSource::Tensors { tensors, path } => {
                let t = tensors.get(name).ok_or_else(|| ModelError::MissingTensor {
                    path: path.clone(),
                    name: name.to_string(),
                })?;
                if t.dims() != shape {
                    return Err(ModelError::ShapeMismatch {
                        path: path.clone(),
                        name: name.to_string(),
                        got: t.dims().to_vec(),
                        expected: shape.to_vec(),
                    });
                }
                Ok(t.to_dtype(DType::F32)?.to_device(dev)?.contiguous()?)
            }
        }
    }
}
