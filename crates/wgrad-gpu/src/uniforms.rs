//! Kernel parameter blocks declared once.
//!
//! [`uniform_params!`] declares a kernel's uniform block as a `#[repr(C)]` Rust struct (the
//! bytes the launcher uploads) and generates the WGSL `struct Params` the shader reads from
//! the same field list, so the two sides cannot drift in order, name or type. A launcher
//! passes `Name::WGSL` as (part of) the prelude of [`crate::shaders::compose`]; the shader
//! file itself declares no parameter struct.
//!
//! Field types and the WGSL they become ([`wgsl_type!`]):
//! - `u32`, `i32`, `f32`: themselves;
//! - `[u32; 4]` (or i32, f32): `vec4<u32>`; `[u32; 8]`: `array<vec4<u32>, 2>`, element
//!   `d` read as `[d / 4u][d % 4u]` (uniform arrays need 16-byte strides, so there is no
//!   `array<u32, N>`, and padding is written as single fields);
//! - `[X; N]` with `X` one of these arrays or another block: `array<X, N>` (`N` a literal,
//!   or a constant that the module's WGSL declares too);
//! - the name of another block (declared `as` its WGSL name): that struct.
//!
//! A compile-time check keeps the Rust layout equal to WGSL's: vectors and arrays must
//! start at a multiple of 16 bytes, and a block holding any must end at one.
//!
//! Blocks are written one 16-byte row per line (four scalars, or one vector or array), so
//! the layout the check enforces is visible where the block is declared; a field's note is
//! a `//` comment above its row.

/// The WGSL type of a parameter block field's Rust type (see the module docs).
#[rustfmt::skip]
macro_rules! wgsl_type {
    ([u32; 4]) => { "vec4<u32>" };
    ([i32; 4]) => { "vec4<i32>" };
    ([f32; 4]) => { "vec4<f32>" };
    ([u32; 8]) => { "array<vec4<u32>, 2>" };
    ([i32; 8]) => { "array<vec4<i32>, 2>" };
    ([f32; 8]) => { "array<vec4<f32>, 2>" };
    ([$elem:tt; $n:tt]) => { concat!("array<", $crate::uniforms::wgsl_type!($elem), ", ", stringify!($n), ">") };
    ($name:ident) => { stringify!($name) };
}

/// Declares a uniform parameter block: the Rust struct (with `Pod`) and its WGSL text
/// `WGSL`, a `struct Params { ... }` (or `struct Name` with `struct Rust as Name`) with the
/// same fields in the same order.
macro_rules! uniform_params {
    ($(#[$meta:meta])* $vis:vis struct $name:ident $(as $wgsl:ident)? {
        $($(#[$fmeta:meta])* $field:ident : $ty:tt),* $(,)?
    }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
        $vis struct $name {
            $($(#[$fmeta])* pub $field: $ty),*
        }

        impl $name {
            /// This block's WGSL declaration.
            pub const WGSL: &'static str = concat!(
                "struct ", $crate::uniforms::uniform_params!(@wgsl_name $($wgsl)?), " {\n",
                $("    ", stringify!($field), ": ", $crate::uniforms::wgsl_type!($ty), ",\n",)*
                "}\n"
            );
        }

        // WGSL aligns vectors, arrays and structs to 16 bytes (Rust to 4): the layouts
        // agree only if every such field already starts, and the block ends, at a multiple of 16.
        const _: () = {
            let mut align = 4;
            $(
                if core::mem::size_of::<$ty>() > 4 {
                    align = 16;
                    assert!(
                        core::mem::offset_of!($name, $field) % 16 == 0,
                        concat!(stringify!($name), ".", stringify!($field), " must start at a multiple of 16 bytes")
                    );
                }
            )*
            assert!(
                core::mem::size_of::<$name>() % align == 0,
                concat!(stringify!($name), " must end at a multiple of 16 bytes")
            );
        };
    };
    (@wgsl_name) => { "Params" };
    (@wgsl_name $wgsl:ident) => { stringify!($wgsl) };
}

pub(crate) use {uniform_params, wgsl_type};

#[cfg(test)]
mod tests {
    use core::mem::offset_of;

    uniform_params! {
        /// A block for the test.
        struct Example { rows: u32, shift: i32, eps: f32, _pad0: u32 }
    }

    uniform_params! {
        /// A nested block, named in WGSL.
        struct Inner as Inner { n: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
    }

    uniform_params! {
        /// A block with arrays.
        struct Arrays as ArrayParams {
            rank: u32, scale: f32, _pad0: u32, _pad1: u32,
            offsets: [u32; 4],
            shape: [u32; 8],
            strides: [[u32; 8]; 2],
            rows: [[f32; 4]; 3],
            inner: [Inner; 2],
        }
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

    #[test]
    fn arrays_become_vec4_based_wgsl_arrays_at_the_same_offsets() {
        assert_eq!(
            Arrays::WGSL,
            "struct ArrayParams {\n    rank: u32,\n    scale: f32,\n    _pad0: u32,\n    _pad1: u32,\n    \
             offsets: vec4<u32>,\n    shape: array<vec4<u32>, 2>,\n    strides: array<array<vec4<u32>, 2>, 2>,\n    \
             rows: array<vec4<f32>, 3>,\n    inner: array<Inner, 2>,\n}\n"
        );
        assert_eq!(Inner::WGSL, "struct Inner {\n    n: u32,\n    _pad0: u32,\n    _pad1: u32,\n    _pad2: u32,\n}\n");
        let inner = |n| Inner { n, _pad0: 0, _pad1: 0, _pad2: 0 };
        let block = Arrays {
            rank: 3,
            scale: 0.5,
            _pad0: 0,
            _pad1: 0,
            offsets: [1, 2, 3, 4],
            shape: [5, 6, 7, 8, 9, 10, 11, 12],
            strides: [[13; 8], [14; 8]],
            rows: [[1.0; 4], [2.0; 4], [3.0; 4]],
            inner: [inner(15), inner(16)],
        };
        let words: &[u32] = bytemuck::cast_slice(bytemuck::bytes_of(&block));
        assert_eq!((words[1], words[4], words[8], words[16], words[24]), (0.5f32.to_bits(), 1, 5, 13, 14));
        assert_eq!((words[32], words[40], words[44], words[48]), (1.0f32.to_bits(), 3.0f32.to_bits(), 15, 16));

        let rust = [
            offset_of!(Arrays, rank),
            offset_of!(Arrays, scale),
            offset_of!(Arrays, _pad0),
            offset_of!(Arrays, _pad1),
            offset_of!(Arrays, offsets),
            offset_of!(Arrays, shape),
            offset_of!(Arrays, strides),
            offset_of!(Arrays, rows),
            offset_of!(Arrays, inner),
        ];
        let (offsets, size) = wgsl_layout(&[Inner::WGSL, Arrays::WGSL].concat(), "ArrayParams");
        assert_eq!(offsets, rust.map(|o| o as u32));
        assert_eq!(size as usize, core::mem::size_of::<Arrays>());
    }

    /// naga's member offsets and size of the WGSL struct `name` declared in `wgsl`, read as a
    /// uniform (validated, so its strides and alignments are legal there).
    fn wgsl_layout(wgsl: &str, name: &str) -> (Vec<u32>, u32) {
        let src = format!("{wgsl}@group(0) @binding(0) var<uniform> params: {name};\n");
        let module = naga::front::wgsl::parse_str(&src).unwrap();
        let flags = (naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all());
        naga::valid::Validator::new(flags.0, flags.1).validate(&module).unwrap();
        let ty = module.types.iter().find(|(_, t)| t.name.as_deref() == Some(name)).unwrap().1;
        match &ty.inner {
            naga::TypeInner::Struct { members, span } => (members.iter().map(|m| m.offset).collect(), *span),
            other => panic!("{name} is not a struct: {other:?}"),
        }
    }
}
