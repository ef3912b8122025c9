// The gates of the fused LSTM cells (lstm_cell.wgsl and its backward), recomputed from the
// pre-activations `gates` [B, 4H] (PyTorch order i, f, g, o; contiguous from
// params.gates_offset) that both cells bind.

struct LstmGates {
    i: f32,
    f: f32,
    g: f32,
    o: f32,
}

// The activated gates of unit j of batch row b: sigmoid(i), sigmoid(f), tanh(g), sigmoid(o).
fn lstm_gates(b: u32, j: u32) -> LstmGates {
    let h = params.hidden;
    let row = params.gates_offset + b * 4u * h;
    return LstmGates(
        sigmoid(f32(gates[row + j])),
        sigmoid(f32(gates[row + h + j])),
        tanh_safe(f32(gates[row + 2u * h + j])),
        sigmoid(f32(gates[row + 3u * h + j])),
    );
}
