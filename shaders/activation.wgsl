// Activations shared by the kernels that apply one (matmul's fused epilogue and the
// elementwise unary op); appended to those kernels' source when they are loaded.
// Kinds: 0 none, 1 gelu (erf), 2 gelu (tanh), 3 relu, 4 silu, 5 tanh.

fn erf_as(x: f32) -> f32 {
    // Abramowitz & Stegun 7.1.26, the same polynomial as the CPU backend.
    let s = sign(x);
    let ax = abs(x);
    let t = 1.0 / (1.0 + 0.3275911 * ax);
    let y = ((((1.0614054 * t - 1.4531521) * t + 1.4214138) * t - 0.28449674) * t + 0.2548296) * t;
    return s * (1.0 - y * exp(-ax * ax));
}

fn activate(x: f32, kind: u32) -> f32 {
    switch kind {
        case 1u: { return 0.5 * x * (1.0 + erf_as(x * 0.70710678)); }
        // tanh's argument is clamped: some drivers overflow exp inside tanh past ±15.
        case 2u: { return 0.5 * x * (1.0 + tanh(clamp(0.7978846 * (x + 0.044715 * x * x * x), -15.0, 15.0))); }
        case 3u: { return max(x, 0.0); }
        case 4u: { return x / (1.0 + exp(-x)); }
        case 5u: { return tanh(clamp(x, -15.0, 15.0)); }
        default: { return x; }
    }
}
