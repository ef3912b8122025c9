//! The [`Module`] trait: forward, named parameters with PyTorch's state-dict names,
//! train/eval mode, and saving/loading as safetensors.

use super::{checkpoint, Buffer, Parameter};
use crate::{Result, Tensor};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// A layer or a model (torch.nn.Module). Implement [`Module::forward`], and
/// [`Module::own_parameters`] / [`Module::children`] (or [`Module::named_parameters`]
/// directly); everything else is provided.
pub trait Module: Send + Sync {
    /// Applies the module to `x`.
    fn forward(&self, x: &Tensor) -> Tensor;

    /// This module's own parameters, not its children's ("weight", "bias").
    fn own_parameters(&self) -> Vec<(String, Parameter)> {
        Vec::new()
    }

    /// This module's own buffers ("running_mean"), not its children's.
    fn own_buffers(&self) -> Vec<(String, Buffer)> {
        Vec::new()
    }

    /// The direct submodules with their names ("0", "conv1").
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// Sets training (true) or evaluation mode here and in every submodule. Modules that
    /// behave differently (Dropout, BatchNorm) override this to record the mode.
    fn set_training(&self, training: bool) {
        for (_, child) in self.children() {
            child.set_training(training);
        }
    }

    /// Every parameter with its state-dict name ("0.weight", "conv1.bias"): own
    /// parameters first, then each child's under its name.
    fn named_parameters(&self) -> Vec<(String, Parameter)> {
        let mut out = self.own_parameters();
        for (prefix, child) in self.children() {
            out.extend(child.named_parameters().into_iter().map(|(n, p)| (format!("{prefix}.{n}"), p)));
        }
        out
    }

    /// Every buffer with its state-dict name ("1.running_var").
    fn named_buffers(&self) -> Vec<(String, Buffer)> {
        let mut out = self.own_buffers();
        for (prefix, child) in self.children() {
            out.extend(child.named_buffers().into_iter().map(|(n, b)| (format!("{prefix}.{n}"), b)));
        }
        out
    }

    /// Every parameter (what an optimizer is built from).
    fn parameters(&self) -> Vec<Parameter> {
        self.named_parameters().into_iter().map(|(_, p)| p).collect()
    }

    /// Training mode (module.train()).
    fn train(&self) {
        self.set_training(true);
    }

    /// Evaluation mode (module.eval()).
    fn eval(&self) {
        self.set_training(false);
    }

    /// Parameters, then buffers, by state-dict name (untracked current values).
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        checkpoint::state_dict(self)
    }

    /// Replaces every parameter and buffer with the tensor of its name in `state`
    /// (converted to the parameter's dtype and device). `Err` lists every missing,
    /// unexpected and wrongly shaped name; nothing is changed then.
    fn load_state_dict(&self, state: &HashMap<String, Tensor>) -> Result<()> {
        checkpoint::load_state_dict(self, state, "state dict")
    }

    /// Moves every parameter and buffer to `device` (PyTorch's `module.to(device)`),
    /// keeping their names and the cells optimizers built from `parameters()` share;
    /// build optimizers after moving, as in PyTorch, since their state stays where it is.
    /// `Err` if reading a value back fails (a pending device error); the values moved
    /// before it stay moved.
    fn to(&self, device: &crate::Device) -> Result<()> {
        for (_, p) in self.named_parameters() {
            p.set(p.tensor().try_to_device(device)?);
        }
        for (_, b) in self.named_buffers() {
            b.set(b.tensor().try_to_device(device)?);
        }
        Ok(())
    }

    /// Saves the state dict as a safetensors file (atomically), loadable by PyTorch by name.
    fn save(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        checkpoint::save(self, path.as_ref())
    }

    /// Loads a safetensors state dict saved by [`Module::save`] or PyTorch; see
    /// [`Module::load_state_dict`] for the checks. Errors name the file.
    fn load(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        checkpoint::load(self, path.as_ref())
    }
}

/// A struct field that holds submodules, for `#[derive(Module)]`: a module, or a
/// `Vec`, `Option` or array of them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a module: mark the field #[module(skip)] if it holds no submodule",
    label = "not a Module, Vec/Option/array of modules, Parameter or Buffer"
)]
pub trait ModuleField {
    /// Adds this field's submodules to `out`, named `name` (`name.<i>` for a list's).
    fn collect<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a dyn Module)>);
}

impl<M: Module> ModuleField for M {
    fn collect<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a dyn Module)>) {
        out.push((name.to_string(), self));
    }
}

impl<T: ModuleField> ModuleField for Vec<T> {
    fn collect<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a dyn Module)>) {
        self.as_slice().collect(name, out);
    }
}

impl<T: ModuleField, const N: usize> ModuleField for [T; N] {
    fn collect<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a dyn Module)>) {
        self.as_slice().collect(name, out);
    }
}

impl<T: ModuleField> ModuleField for [T] {
    fn collect<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a dyn Module)>) {
        for (i, item) in self.iter().enumerate() {
            item.collect(&format!("{name}.{i}"), out);
        }
    }
}

impl<T: ModuleField> ModuleField for Option<T> {
    fn collect<'a>(&'a self, name: &str, out: &mut Vec<(String, &'a dyn Module)>) {
        if let Some(item) = self {
            item.collect(name, out);
        }
    }
}

macro_rules! forward_module {
    ($ty:ty) => {
        impl<M: Module + ?Sized> Module for $ty {
            fn forward(&self, x: &Tensor) -> Tensor {
                (**self).forward(x)
            }
            fn own_parameters(&self) -> Vec<(String, Parameter)> {
                (**self).own_parameters()
            }
            fn own_buffers(&self) -> Vec<(String, Buffer)> {
                (**self).own_buffers()
            }
            fn children(&self) -> Vec<(String, &dyn Module)> {
                (**self).children()
            }
            fn set_training(&self, training: bool) {
                (**self).set_training(training)
            }
            fn named_parameters(&self) -> Vec<(String, Parameter)> {
                (**self).named_parameters()
            }
            fn named_buffers(&self) -> Vec<(String, Buffer)> {
                (**self).named_buffers()
            }
        }
    };
}

forward_module!(Box<M>);
forward_module!(std::sync::Arc<M>);

/// The train/eval flag of a module that behaves differently in training (true at
/// creation, as in PyTorch).
#[derive(Debug)]
pub struct TrainingFlag(AtomicBool);

impl Default for TrainingFlag {
    fn default() -> Self {
        TrainingFlag(AtomicBool::new(true))
    }
}

impl TrainingFlag {
    /// True in training mode.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// Sets the mode.
    pub fn set(&self, training: bool) {
        self.0.store(training, Ordering::Relaxed);
    }
}

/// Exports the built-in layers (`pub use module::{Type, ...}`) and gives each inherent
/// copies of the [`Module`] methods users call most, so that `model.forward(&x)` and
/// `model.save(path)` work with only `use wgrad::nn;` in scope (as in PyTorch, where they
/// are methods). Exporting a layer through this list is what gives it the methods; the
/// layers after `own forward:` keep their own inherent `forward`.
macro_rules! export_layers {
    (
        $($module:ident::{$($ty:ident),* $(,)?}),* $(,)?;
        own forward: $($own_module:ident::{$($own_ty:ident),* $(,)?}),* $(,)?
    ) => {
        $(pub use $module::{$($ty),*};)*
        $(pub use $own_module::{$($own_ty),*};)*
        $($(
            impl $ty {
                /// Applies the module ([`Module::forward`]).
                pub fn forward(&self, x: &crate::Tensor) -> crate::Tensor {
                    <Self as Module>::forward(self, x)
                }
            }
            $crate::nn::module::export_layers!(@methods $ty);
        )*)*
        $($($crate::nn::module::export_layers!(@methods $own_ty);)*)*
    };
    (@methods $ty:ident) => {
        impl $ty {
            /// Every parameter ([`Module::parameters`]).
            pub fn parameters(&self) -> Vec<Parameter> {
                <Self as Module>::parameters(self)
            }
            /// Every parameter with its state-dict name ([`Module::named_parameters`]).
            pub fn named_parameters(&self) -> Vec<(String, Parameter)> {
                <Self as Module>::named_parameters(self)
            }
            /// Parameters and buffers by name ([`Module::state_dict`]).
            pub fn state_dict(&self) -> Vec<(String, crate::Tensor)> {
                <Self as Module>::state_dict(self)
            }
            /// Loads a state dict ([`Module::load_state_dict`]).
            pub fn load_state_dict(
                &self,
                state: &std::collections::HashMap<String, crate::Tensor>,
            ) -> crate::Result<()> {
                <Self as Module>::load_state_dict(self, state)
            }
            /// Training mode ([`Module::train`]).
            pub fn train(&self) {
                <Self as Module>::train(self)
            }
            /// Evaluation mode ([`Module::eval`]).
            pub fn eval(&self) {
                <Self as Module>::eval(self)
            }
            /// Saves the state dict as safetensors ([`Module::save`]).
            pub fn save(&self, path: impl AsRef<std::path::Path>) -> crate::Result<()> {
                <Self as Module>::save(self, path)
            }
            /// Loads a safetensors state dict ([`Module::load`]).
            pub fn load(&self, path: impl AsRef<std::path::Path>) -> crate::Result<()> {
                <Self as Module>::load(self, path)
            }
        }
    };
}
pub(crate) use export_layers;

/// Builder methods that set a field of the layer's `params` to one value, the same on
/// both axes where the field is a pair: `stride`, `padding`, ...
macro_rules! params_setters {
    ($($name:ident: $ty:ty => $value:expr, $doc:literal;)*) => {$(
        #[doc = concat!("The same layer with ", $doc, ".")]
        pub fn $name(mut self, v: $ty) -> Self {
            self.params.$name = $value(v);
            self
        }
    )*};
}
pub(crate) use params_setters;
