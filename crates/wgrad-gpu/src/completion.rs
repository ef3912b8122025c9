//! [`Completion`]: a future of the value a wgpu callback delivers (a buffer mapping, the
//! queue's work done). In a browser the page's event loop runs the callback; natively
//! nothing does until the device is polled, so the future polls it (without blocking)
//! each time it is polled itself.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// The value, once delivered, and the task waiting for it.
type Slot<T> = Arc<Mutex<(Option<T>, Option<Waker>)>>;

/// Resolves to what the callback from [`Completion::callback`] is given.
pub(crate) struct Completion<T> {
    slot: Slot<T>,
    device: wgpu::Device,
}

impl<T: Send + 'static> Completion<T> {
    /// A completion for a callback of `device`'s.
    pub(crate) fn new(device: &wgpu::Device) -> Self {
        Completion { slot: Arc::new(Mutex::new((None, None))), device: device.clone() }
    }

    /// The callback to hand to wgpu: stores its value and wakes the waiting task.
    pub(crate) fn callback(&self) -> impl FnOnce(T) + Send + 'static {
        let slot = self.slot.clone();
        move |value| {
            let waker = {
                let mut s = slot.lock().unwrap();
                s.0 = Some(value);
                s.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl<T> Future for Completion<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        if let Some(v) = self.slot.lock().unwrap().0.take() {
            return Poll::Ready(v);
        }
        // Natively, callbacks run inside device.poll: give them the chance now.
        let _ = self.device.poll(wgpu::PollType::Poll);
        let mut s = self.slot.lock().unwrap();
        if let Some(v) = s.0.take() {
            return Poll::Ready(v);
        }
        s.1 = Some(cx.waker().clone());
        if !cfg!(target_arch = "wasm32") {
            // Nothing else will poll the device: ask to be polled again (a yielding spin).
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}
