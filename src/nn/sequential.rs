//! [`Sequential`]: modules applied in order, named "0", "1", ...

use super::Module;
use crate::Tensor;

/// A chain of modules (nn.Sequential); child `i` is named `"i"` in the state dict.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty chain (the identity).
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// Appends `m` (builder style: `Sequential::new().add(a).add(b)`).
    #[allow(clippy::should_implement_trait)]
    pub fn add<M: Module + 'static>(mut self, m: M) -> Sequential {
        self.layers.push(Box::new(m));
        self
    }

    /// Appends a boxed module.
    pub fn push(&mut self, m: Box<dyn Module>) {
        self.layers.push(m);
    }

    /// The `i`-th module.
    pub fn get(&self, i: usize) -> Option<&dyn Module> {
        self.layers.get(i).map(|m| &**m)
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when the chain is empty.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut y = x.clone();
        for m in &self.layers {
            y = m.forward(&y);
        }
        y
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.layers.iter().enumerate().map(|(i, m)| (i.to_string(), &**m as &dyn Module)).collect()
    }
}
