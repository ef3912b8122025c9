//! Kernel parameter blocks declared once.
//!
//! [`uniform_params!`] declares a kernel's uniform block as a `#[repr(C)]` Rust struct (the
//! bytes the launcher uploads) and generates the WGSL `struct Params` the shader reads from
//! the same field list, so the two sides cannot drift in order, name or type. A launcher
//! passes `Name::WGSL` as the prelude of [`crate::shaders::compose`]; the shader file itself
//! declares no parameter struct. Fields are `u32`, `i32` or `f32` (WGSL uniform arrays need
//! 16-byte strides, so padding is written as single fields).

/// Declares a uniform parameter block: the Rust struct (with `Pod`) and its WGSL text
/// `WGSL`, a `struct Params { ... }` with the same fields in the same order.
macro_rules! uniform_params {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ident),* $(,)? }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
        $vis struct $name {
            $($(#[$fmeta])* pub $field: $ty),*
        }

        impl $name {
            /// This block's WGSL declaration, `struct Params { ... }`.
            pub const WGSL: &'static str =
                concat!("struct Params {\n", $("    ", stringify!($field), ": ", stringify!($ty), ",\n",)* "}\n");
        }
    };
}

pub(crate) use uniform_params;

#[cfg(test)]
mod tests {
    uniform_params! {
        /// A block for the test.
        struct Example { rows: u32, shift: i32, eps: f32, _pad0: u32 }
    }

    #[test]
    fn the_wgsl_struct_lists_the_rust_fields_in_order() {
        assert_eq!(
            Example::WGSL,
            "struct Params {\n    rows: u32,\n    shift: i32,\n    eps: f32,\n    _pad0: u32,\n}\n"
        );
        let block = Example { rows: 1, shift: -2, eps: 0.5, _pad0: 0 };
        assert_eq!(bytemuck::bytes_of(&block).len(), 16);
        assert_eq!(bytemuck::cast::<_, [u32; 4]>(block), [1, (-2i32) as u32, 0.5f32.to_bits(), 0]);
    }
}
