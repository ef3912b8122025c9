//! The page's bindings (wasm-bindgen): [`Page`] opens a device, loads the checkpoint and
//! the digits, classifies drawings and trains. Every method that reads a result back
//! returns a `Promise`: the work is recorded and submitted when it is called, and the
//! promise resolves when the browser delivers the values.

use crate::{Classifier, Digits, Training, PIXELS};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use wgrad::Device;

/// Panics show up in the browser console with their message.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// A wgrad error as a JavaScript `Error` (a promise's rejection).
fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

/// Everything the page holds: the device, the demo's classifier, the digits, and the CNN
/// being trained in the page (after the first training step).
#[wasm_bindgen]
pub struct Page {
    dev: Device,
    checkpoint: Vec<u8>,
    classifier: Classifier,
    digits: std::rc::Rc<Digits>,
    training: Option<Training>,
}

#[wasm_bindgen]
impl Page {
    /// Opens WebGPU when `use_gpu` is true and the browser gives an adapter, else the CPU
    /// backend; loads the checkpoint (`mnist_cnn.safetensors`) and the digits
    /// (`digits.safetensors`) from their bytes.
    pub async fn open(use_gpu: bool, checkpoint: Vec<u8>, digits: Vec<u8>) -> Result<Page, JsValue> {
        let dev = match use_gpu {
            true => match Device::gpu_async().await {
                Ok(dev) => dev,
                Err(e) => {
                    web_sys_log(&format!("wgrad: no WebGPU device ({e}); using the CPU backend"));
                    Device::cpu()
                }
            },
            false => Device::cpu(),
        };
        let classifier = Classifier::load(&checkpoint, &dev).map_err(js_error)?;
        let digits = Digits::from_bytes(&digits).map_err(js_error)?;
        Ok(Page { dev, checkpoint, classifier, digits: std::rc::Rc::new(digits), training: None })
    }

    /// The device's name, as wgrad reports it.
    pub fn device(&self) -> String {
        self.dev.name()
    }

    /// True when the page computes on WebGPU.
    pub fn on_gpu(&self) -> bool {
        self.dev.is_gpu()
    }

    /// Held-out digits in the page.
    pub fn held_out_count(&self) -> usize {
        self.digits.held_out.len()
    }

    /// The pixels of held-out digit `i` (784 values in `[0, 1]`, row by row).
    pub fn held_out_image(&self, i: usize) -> Vec<f32> {
        self.digits.held_out.image(i).to_vec()
    }

    /// The label of held-out digit `i`.
    pub fn held_out_label(&self, i: usize) -> u32 {
        self.digits.held_out.labels[i]
    }

    /// The demo checkpoint's 10 class probabilities of one 28x28 image (a `Float32Array`),
    /// or of the CNN trained in the page once `trained` is true and it has taken a step.
    pub fn predict(&self, image: Vec<f32>, trained: bool) -> Result<Promise, JsValue> {
        if image.len() != PIXELS {
            return Err(js_error(format!("an image has {PIXELS} pixels, not {}", image.len())));
        }
        let classifier = match (&self.training, trained) {
            (Some(t), true) => t.classifier(),
            _ => &self.classifier,
        };
        let read = classifier.probabilities(&image).to_vec_async::<f32>();
        Ok(future_to_promise(async move {
            let p = read.await.map_err(js_error)?;
            Ok(js_sys::Float32Array::from(p.as_slice()).into())
        }))
    }

    /// One training step of the page's own CNN (a fresh one, seeded, at the first call);
    /// resolves to the step's loss.
    pub fn train_step(&mut self) -> Result<Promise, JsValue> {
        let dev = self.dev.clone();
        let training = self.training.get_or_insert_with(|| Training::new(&dev));
        let read = training.step(&self.digits.train).map_err(js_error)?.to_scalar_async();
        Ok(future_to_promise(async move { Ok(JsValue::from_f64(read.await.map_err(js_error)?)) }))
    }

    /// Training steps taken in the page.
    pub fn steps(&self) -> usize {
        self.training.as_ref().map_or(0, Training::steps)
    }

    /// The fraction of the held-out digits the page's CNN gets right (the demo's
    /// checkpoint before the first training step).
    pub fn held_out_accuracy(&self) -> Promise {
        let classifier = self.training.as_ref().map_or(&self.classifier, Training::classifier);
        let read = classifier.classes(&self.digits.held_out.images).to_vec_async::<u32>();
        let digits = self.digits.clone();
        future_to_promise(async move {
            let predicted = read.await.map_err(js_error)?;
            Ok(JsValue::from_f64(crate::accuracy(&predicted, &digits.held_out.labels)))
        })
    }

    /// The browser test's computations ([`crate::check_report`] on this page's device:
    /// the checkpoint on the first held-out digits, then a fresh CNN's first steps);
    /// resolves to the report as JSON.
    pub fn check(&self) -> Promise {
        let (checkpoint, digits, dev) = (self.checkpoint.clone(), self.digits.clone(), self.dev.clone());
        future_to_promise(async move {
            let report = crate::check_report(&checkpoint, &digits, &dev).await.map_err(js_error)?;
            Ok(JsValue::from_str(&serde_json::to_string(&report).map_err(js_error)?))
        })
    }
}

#[wasm_bindgen]
extern "C" {
    /// `console.log`.
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn web_sys_log(s: &str);
}
