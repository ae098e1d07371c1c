//! `SupportVectorMachineModel`: linear, polynomial, radial basis and sigmoid kernels;
//! regression, one-against-one and one-against-all classification.

use std::collections::HashMap;

use crate::compile::{Compiler, ModelNode};
use crate::error::{EvalError, Fail, PmmlError};
use crate::eval::{Ctx, Slot};
use crate::expr::{num_attr, opt_num_attr, req};
use crate::models::{cat_index, is_classification};
use crate::output::set_regression;
use crate::predicate::array_numbers;
use crate::types::Val;
use crate::xml::Element;

#[derive(Debug, Clone, Copy)]
enum Kernel {
    Linear,
    Polynomial { gamma: f64, coef0: f64, degree: f64 },
    Rbf { gamma: f64 },
    Sigmoid { gamma: f64, coef0: f64 },
}

impl Kernel {
    /// The sums over the coordinates of `x` and of every support vector of `vectors`
    /// (products, or squared differences for the radial basis), into `out`: the kernel
    /// values before [`Kernel::finish`].
    #[inline(always)]
    fn sums_all(self, x: &[f64], vectors: &Vectors, out: &mut Vec<f64>) {
        out.clear();
        match self {
            // `(v - x)^2` is `(x - v)^2` to the bit; subtracting from the vector's value
            // spares a copy of `x` per term.
            Kernel::Rbf { .. } => sums(x, vectors, out, |a, b| (b - a) * (b - a)),
            _ => sums(x, vectors, out, |a, b| a * b),
        }
    }

    /// The kernel value from its sum.
    #[inline(always)]
    fn finish(self, k: f64) -> f64 {
        match self {
            Kernel::Linear => k,
            Kernel::Polynomial {
                gamma,
                coef0,
                degree,
            } => (gamma * k + coef0).powf(degree),
            Kernel::Rbf { gamma } => (-gamma * k).exp(),
            Kernel::Sigmoid { gamma, coef0 } => (gamma * k + coef0).tanh(),
        }
    }

    /// The kernel values of `x` with every support vector of `vectors`, into `out`:
    /// with AVX2's four lanes where the processor has them (the same operations in the
    /// same order, so the same values to the bit: Rust never fuses a multiplication and
    /// an addition).
    #[allow(unsafe_code)]
    fn eval_all(self, x: &[f64], vectors: &Vectors, out: &mut Vec<f64>) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the processor has AVX2, checked just above.
            return unsafe { self.eval_all_avx2(x, vectors, out) };
        }
        self.eval_all_here(x, vectors, out);
    }

    /// [`Kernel::eval_all`] compiled for AVX2.
    ///
    /// # Safety
    ///
    /// The processor must have AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn eval_all_avx2(self, x: &[f64], vectors: &Vectors, out: &mut Vec<f64>) {
        self.eval_all_here(x, vectors, out);
    }

    /// [`Kernel::eval_all`], compiled for the processor features of its caller.
    #[inline(always)]
    fn eval_all_here(self, x: &[f64], vectors: &Vectors, out: &mut Vec<f64>) {
        self.sums_all(x, vectors, out);
        match self {
            Kernel::Linear => {}
            Kernel::Rbf { gamma } if gamma >= 0.0 => exp_of_non_positive(out, gamma),
            _ => out.iter_mut().for_each(|k| *k = self.finish(*k)),
        }
    }
}

/// `2^(j/32)` for `j` in `0..32`, each correctly rounded.
const EXP2_32THS: [f64; 32] = [
    f64::from_bits(0x3ff0000000000000),
    f64::from_bits(0x3ff059b0d3158574),
    f64::from_bits(0x3ff0b5586cf9890f),
    f64::from_bits(0x3ff11301d0125b51),
    f64::from_bits(0x3ff172b83c7d517b),
    f64::from_bits(0x3ff1d4873168b9aa),
    f64::from_bits(0x3ff2387a6e756238),
    f64::from_bits(0x3ff29e9df51fdee1),
    f64::from_bits(0x3ff306fe0a31b715),
    f64::from_bits(0x3ff371a7373aa9cb),
    f64::from_bits(0x3ff3dea64c123422),
    f64::from_bits(0x3ff44e086061892d),
    f64::from_bits(0x3ff4bfdad5362a27),
    f64::from_bits(0x3ff5342b569d4f82),
    f64::from_bits(0x3ff5ab07dd485429),
    f64::from_bits(0x3ff6247eb03a5585),
    f64::from_bits(0x3ff6a09e667f3bcd),
    f64::from_bits(0x3ff71f75e8ec5f74),
    f64::from_bits(0x3ff7a11473eb0187),
    f64::from_bits(0x3ff82589994cce13),
    f64::from_bits(0x3ff8ace5422aa0db),
    f64::from_bits(0x3ff93737b0cdc5e5),
    f64::from_bits(0x3ff9c49182a3f090),
    f64::from_bits(0x3ffa5503b23e255d),
    f64::from_bits(0x3ffae89f995ad3ad),
    f64::from_bits(0x3ffb7f76f2fb5e47),
    f64::from_bits(0x3ffc199bdd85529c),
    f64::from_bits(0x3ffcb720dcef9069),
    f64::from_bits(0x3ffd5818dcfba487),
    f64::from_bits(0x3ffdfc97337b9b5f),
    f64::from_bits(0x3ffea4afa2a490da),
    f64::from_bits(0x3fff50765b6e4540),
];

/// `exp(-gamma * k)` in place for every squared distance `k` (so for arguments at most
/// zero), many at a time: the argument is split as `(32 m + j) ln 2 / 32 + r` with `|r| <=
/// ln 2 / 64`, `exp(r)` is its Taylor polynomial to the 6th power (truncation below 4e-18
/// relative), times `2^(j/32)` from a table and `2^m` built in the exponent bits. Within a
/// few units in the last place of the correctly rounded value (Java's `Math.exp` is within
/// one), far inside the 1e-9 the results are compared with. When an argument is below
/// -708 (its result subnormal or zero) or NaN, all take `f64::exp`.
#[inline(always)]
fn exp_of_non_positive(ks: &mut [f64], gamma: f64) {
    // 1.5 x 2^52: adding it rounds to an integer, which its low bits then hold.
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    // ln 2 / 32 in two parts, the first with its low bits zero (so that `n * LN2_HI` is
    // exact).
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000) / 32.0;
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76) / 32.0;
    const C: [f64; 7] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
    ];
    // Every argument checked without a branch per argument (NaN fails the test).
    let in_range = ks.iter().fold(true, |ok, k| ok & (-gamma * k >= -708.0));
    if !in_range {
        ks.iter_mut().for_each(|k| *k = (-gamma * *k).exp());
        return;
    }
    for k in ks.iter_mut() {
        let x = -gamma * *k;
        let t = x * (32.0 * std::f64::consts::LOG2_E) + SHIFT;
        let n = t - SHIFT;
        let r = (x - n * LN2_HI) - n * LN2_LO;
        let mut p = C[6];
        for c in C[..6].iter().rev() {
            p = p * r + c;
        }
        let i = t.to_bits().wrapping_sub(SHIFT.to_bits()) as i64;
        let scale = f64::from_bits((((i >> 5) + 1023) as u64) << 52);
        *k = p * EXP2_32THS[(i & 31) as usize] * scale;
    }
}

/// How many vectors [`sums`] sums side by side.
const LANES: usize = 8;

/// Support vectors, laid out for [`sums`]: whole groups of [`LANES`] vectors interleaved
/// coordinate by coordinate (`v0[j], v1[j], ..., v7[j]` for each `j`), then the last
/// `count % LANES` vectors row after row.
#[derive(Debug, Clone)]
struct Vectors {
    data: Vec<f64>,
    dim: usize,
    count: usize,
}

impl Vectors {
    /// From vectors given row after row (`rows.len() == count * dim`).
    fn from_rows(rows: &[f64], dim: usize, count: usize) -> Vectors {
        let mut data = Vec::with_capacity(rows.len());
        let whole = count / LANES * LANES;
        for group in (0..whole).step_by(LANES) {
            for j in 0..dim {
                for lane in 0..LANES {
                    data.push(rows[(group + lane) * dim + j]);
                }
            }
        }
        data.extend_from_slice(&rows[whole * dim..]);
        Vectors { data, dim, count }
    }
}

/// Pushes onto `out`, for every vector, the sum over the coordinates of `term(x[j], v[j])`.
///
/// Each vector's terms are added in coordinate order, as a plain loop over one vector
/// would (so every sum is the same to the last bit); [`LANES`] vectors are summed side by side,
/// as lanes, so that their additions overlap and the compiler can use vector instructions.
#[inline(always)]
fn sums(x: &[f64], vectors: &Vectors, out: &mut Vec<f64>, term: impl Fn(f64, f64) -> f64) {
    let dim = vectors.dim;
    let x = &x[..dim];
    if dim == 0 {
        out.resize(vectors.count, 0.0);
        return;
    }
    let (groups, rest) = vectors.data.split_at(vectors.count / LANES * LANES * dim);
    // Each coordinate of `x` twice, as a pair of lanes reads it (a vector load rather
    // than a load and a shuffle per coordinate).
    let mut pairs = [[0.0f64; 2]; 32];
    if dim <= pairs.len() {
        for (p, a) in pairs.iter_mut().zip(x) {
            *p = [*a, *a];
        }
        group_sums(&pairs[..dim], groups, out, &term, |a, lane| a[lane % 2]);
    } else {
        group_sums(x, groups, out, &term, |a, _| *a);
    }
    for v in rest.chunks_exact(dim) {
        let mut s = 0.0;
        for (a, b) in x.iter().zip(v) {
            s += term(*a, *b);
        }
        out.push(s);
    }
}

/// The sums of [`sums`] for the whole groups of [`LANES`] vectors; `coordinate(xs[j],
/// lane)` is `x[j]`.
#[inline(always)]
fn group_sums<A>(
    xs: &[A],
    groups: &[f64],
    out: &mut Vec<f64>,
    term: &impl Fn(f64, f64) -> f64,
    coordinate: impl Fn(&A, usize) -> f64,
) {
    for group in groups.chunks_exact(LANES * xs.len()) {
        let mut s = [0.0f64; LANES];
        for (a, v) in xs.iter().zip(group.chunks_exact(LANES)) {
            let v: &[f64; LANES] = v.try_into().expect("a group of lanes");
            for lane in 0..LANES {
                s[lane] += term(coordinate(a, lane), v[lane]);
            }
        }
        out.extend_from_slice(&s);
    }
}

/// [`Svm::machine_value`] of a machine over every vector (in the same order, so to the
/// same bit).
fn all_vectors_value(
    kernel: Kernel,
    vectors: &Vectors,
    m: &Machine,
    x: &[f64],
    sums: &mut Vec<f64>,
) -> f64 {
    kernel.eval_all(x, vectors, sums);
    let mut acc = 0.0;
    for (k, c) in sums.iter().zip(&m.coefficients) {
        acc += c * k;
    }
    acc + m.b
}

#[derive(Debug, Clone)]
struct Machine {
    vectors: Vec<u32>,
    /// `vectors` is every vector of the dictionary, in order.
    all_vectors: bool,
    coefficients: Vec<f64>,
    b: f64,
    target: Option<u32>,
    alternate: Option<u32>,
    threshold: f64,
}

/// A compiled `SupportVectorMachineModel`.
#[derive(Debug, Clone)]
pub(crate) struct Svm {
    fields: Vec<Slot>,
    /// Per vector field: a `CategoricalPredictor`'s category and coefficient (the entry
    /// is the coefficient when the field has that value, else zero), or `None` for a
    /// `FieldRef` (the field's number).
    indicators: Vec<Option<(Val, f64)>>,
    names: Vec<String>,
    vectors: Vectors,
    kernel: Kernel,
    machines: Vec<Machine>,
    one_against_one: bool,
    alternate_binary: Option<u32>,
}

pub(crate) fn compile(
    c: &mut Compiler<'_>,
    el: &Element,
    node: &mut ModelNode,
) -> Result<Svm, PmmlError> {
    if el.attr("maxWins") == Some("true") {
        return Err(PmmlError::unsupported(
            "SupportVectorMachineModel",
            "maxWins=\"true\"",
        ));
    }
    if let Some(r) = el.attr("svmRepresentation") {
        if r != "SupportVectors" {
            return Err(PmmlError::unsupported(
                "SupportVectorMachineModel",
                format!("svmRepresentation=\"{r}\""),
            ));
        }
    }
    let kernel = if let Some(k) = el.child("LinearKernelType") {
        let _ = k;
        Kernel::Linear
    } else if let Some(k) = el.child("PolynomialKernelType") {
        Kernel::Polynomial {
            gamma: opt_num_attr(k, "gamma")?.unwrap_or(1.0),
            coef0: opt_num_attr(k, "coef0")?.unwrap_or(1.0),
            degree: opt_num_attr(k, "degree")?.unwrap_or(1.0),
        }
    } else if let Some(k) = el.child("RadialBasisKernelType") {
        Kernel::Rbf {
            gamma: opt_num_attr(k, "gamma")?.unwrap_or(1.0),
        }
    } else if let Some(k) = el.child("SigmoidKernelType") {
        Kernel::Sigmoid {
            gamma: opt_num_attr(k, "gamma")?.unwrap_or(1.0),
            coef0: opt_num_attr(k, "coef0")?.unwrap_or(1.0),
        }
    } else {
        return Err(PmmlError::invalid(
            "SupportVectorMachineModel",
            "a kernel is required",
        ));
    };
    let dict = el.child("VectorDictionary").ok_or_else(|| {
        PmmlError::invalid(
            "SupportVectorMachineModel",
            "a VectorDictionary is required",
        )
    })?;
    let vf = dict
        .child("VectorFields")
        .ok_or_else(|| PmmlError::invalid("VectorDictionary", "VectorFields are required"))?;
    let mut fields = Vec::new();
    let mut names = Vec::new();
    let mut indicators = Vec::new();
    for f in vf.content() {
        match f.name.as_str() {
            "FieldRef" => {
                let name = req(f, "field")?;
                fields.push(c.field(name, "FieldRef")?.slot);
                names.push(name.to_string());
                indicators.push(None);
            }
            "CategoricalPredictor" => {
                let name = req(f, "name")?;
                let info = c.field(name, "CategoricalPredictor")?;
                let v = c.constant_for(info.ty, req(f, "value")?, "CategoricalPredictor")?;
                fields.push(info.slot);
                names.push(name.to_string());
                indicators.push(Some((v, num_attr(f, "coefficient")?)));
            }
            other => {
                return Err(PmmlError::unsupported(
                    "VectorFields",
                    format!("<{other}> entries"),
                ))
            }
        }
    }
    let n = fields.len();
    let mut ids = HashMap::new();
    let mut rows = Vec::new();
    let mut count = 0;
    for vi in dict.children_named("VectorInstance") {
        let values = if let Some(a) = vi.child("Array") {
            array_numbers(a)?
        } else if let Some(sa) = vi.child("REAL-SparseArray") {
            let default = opt_num_attr(sa, "defaultValue")?.unwrap_or(0.0);
            let size = opt_num_attr(sa, "n")?.map(|x| x as usize).unwrap_or(n);
            // Checked before allocating: a huge `n` must not exhaust memory.
            if size != n {
                return Err(PmmlError::invalid(
                    "VectorInstance",
                    "the vector length differs from the VectorFields",
                ));
            }
            let mut v = vec![default; size];
            let idx = sa
                .child("Indices")
                .map(array_numbers)
                .transpose()?
                .unwrap_or_default();
            let ent = sa
                .child("REAL-Entries")
                .map(array_numbers)
                .transpose()?
                .unwrap_or_default();
            if idx.len() != ent.len() {
                return Err(PmmlError::invalid(
                    "REAL-SparseArray",
                    "Indices and REAL-Entries differ in length",
                ));
            }
            for (i, x) in idx.iter().zip(ent) {
                let i = *i as usize;
                if i < 1 || i > size {
                    return Err(PmmlError::invalid("REAL-SparseArray", "index out of range"));
                }
                v[i - 1] = x;
            }
            v
        } else {
            return Err(PmmlError::invalid(
                "VectorInstance",
                "an Array or REAL-SparseArray is required",
            ));
        };
        if values.len() != n {
            return Err(PmmlError::invalid(
                "VectorInstance",
                "the vector length differs from the VectorFields",
            ));
        }
        ids.insert(req(vi, "id")?.to_string(), count as u32);
        rows.extend_from_slice(&values);
        count += 1;
    }
    let vectors = Vectors::from_rows(&rows, n, count);
    let classification = is_classification(node);
    let model_threshold = opt_num_attr(el, "threshold")?.unwrap_or(0.0);
    let mut machines = Vec::new();
    for m in el.children_named("SupportVectorMachine") {
        let mut vs = Vec::new();
        if let Some(svs) = m.child("SupportVectors") {
            for sv in svs.children_named("SupportVector") {
                let id = req(sv, "vectorId")?;
                vs.push(*ids.get(id).ok_or_else(|| {
                    PmmlError::invalid("SupportVector", format!("unknown vector \"{id}\""))
                })?);
            }
        }
        let coefs_el = m.child("Coefficients").ok_or_else(|| {
            PmmlError::invalid("SupportVectorMachine", "Coefficients are required")
        })?;
        let mut coefficients = Vec::new();
        for co in coefs_el.children_named("Coefficient") {
            coefficients.push(opt_num_attr(co, "value")?.unwrap_or(0.0));
        }
        if coefficients.len() != vs.len() {
            return Err(PmmlError::invalid(
                "SupportVectorMachine",
                "the numbers of coefficients and support vectors differ",
            ));
        }
        let b = opt_num_attr(coefs_el, "absoluteValue")?.unwrap_or(0.0);
        let mut cat = |attr: &str| -> Result<Option<u32>, PmmlError> {
            match m.attr(attr) {
                None => Ok(None),
                Some(t) => {
                    let v = c.constant_for(node.target.ty, t, "SupportVectorMachine")?;
                    Ok(Some(cat_index(&mut node.cats, v)))
                }
            }
        };
        let (target, alternate) = if classification {
            (cat("targetCategory")?, cat("alternateTargetCategory")?)
        } else {
            (None, None)
        };
        if classification && target.is_none() {
            return Err(PmmlError::invalid(
                "SupportVectorMachine",
                "missing attribute targetCategory",
            ));
        }
        let threshold = opt_num_attr(m, "threshold")?.unwrap_or(model_threshold);
        let _ = num_attr;
        machines.push(Machine {
            all_vectors: vs.len() == vectors.count
                && vs.iter().enumerate().all(|(i, v)| *v as usize == i),
            vectors: vs,
            coefficients,
            b,
            target,
            alternate,
            threshold,
        });
    }
    if machines.is_empty() {
        return Err(PmmlError::invalid(
            "SupportVectorMachineModel",
            "at least one SupportVectorMachine is required",
        ));
    }
    if !classification && machines.len() != 1 {
        return Err(PmmlError::invalid(
            "SupportVectorMachineModel",
            "a regression needs exactly one SupportVectorMachine",
        ));
    }
    let alternate_binary = match el.attr("alternateBinaryTargetCategory") {
        Some(t) if classification => {
            let v = c.constant_for(node.target.ty, t, "SupportVectorMachineModel")?;
            Some(cat_index(&mut node.cats, v))
        }
        _ => None,
    };
    let one_against_one = match el.attr("classificationMethod") {
        Some("OneAgainstOne") => true,
        Some("OneAgainstAll") => false,
        Some(o) => {
            return Err(PmmlError::invalid(
                "SupportVectorMachineModel",
                format!("unknown classificationMethod \"{o}\""),
            ))
        }
        None => alternate_binary.is_some() || machines.iter().any(|m| m.alternate.is_some()),
    };
    if classification
        && one_against_one
        && alternate_binary.is_none()
        && machines.iter().any(|m| m.alternate.is_none())
    {
        return Err(PmmlError::invalid(
            "SupportVectorMachine",
            "missing attribute alternateTargetCategory",
        ));
    }
    Ok(Svm {
        fields,
        indicators,
        names,
        vectors,
        kernel,
        machines,
        one_against_one,
        alternate_binary,
    })
}

impl Svm {
    /// The decision value of one machine from the kernel values of the record.
    fn machine_value(m: &Machine, kernel: &[f64]) -> f64 {
        let mut acc = 0.0;
        if m.all_vectors {
            for (k, c) in kernel.iter().zip(&m.coefficients) {
                acc += c * k;
            }
        } else {
            for (v, c) in m.vectors.iter().zip(&m.coefficients) {
                acc += c * kernel[*v as usize];
            }
        }
        acc + m.b
    }

    pub(crate) fn evaluate(&self, ctx: &mut Ctx<'_>, index: usize) -> Result<(), Fail> {
        let mut x = std::mem::take(&mut ctx.s.nums_mining);
        x.clear();
        for ((slot, name), indicator) in self.fields.iter().zip(&self.names).zip(&self.indicators) {
            match ctx.get(*slot) {
                Ok(v) => match (v.num(), indicator) {
                    (_, Some((value, coefficient))) if !v.is_missing() => {
                        x.push(if ctx.equal(v, *value) {
                            *coefficient
                        } else {
                            0.0
                        })
                    }
                    (Some(n), None) => x.push(n),
                    _ => {
                        ctx.s.nums_mining = x;
                        return Err(EvalError::MissingValue {
                            field: name.clone(),
                        }
                        .into());
                    }
                },
                Err(e) => {
                    ctx.s.nums_mining = x;
                    return Err(e);
                }
            }
        }
        let mut k = std::mem::take(&mut ctx.s.kernel_vals);
        let node = &ctx.m.models[index];
        if !is_classification(node) {
            let m = &self.machines[0];
            let v = if m.all_vectors {
                all_vectors_value(self.kernel, &self.vectors, m, &x, &mut k)
            } else {
                self.kernel.eval_all(&x, &self.vectors, &mut k);
                Self::machine_value(m, &k)
            };
            ctx.s.nums_mining = x;
            ctx.s.kernel_vals = k;
            set_regression(ctx, index, Some(v));
            return Ok(());
        }
        self.kernel.eval_all(&x, &self.vectors, &mut k);
        ctx.s.nums_mining = x;
        let mut probs = std::mem::take(&mut ctx.s.preds[index].probs);
        probs.iter_mut().for_each(|p| *p = 0.0);
        let mut order = std::mem::take(&mut ctx.s.preds[index].order);
        order.clear();
        let mut result: Result<(), Fail> = Ok(());
        let label;
        if self.one_against_one {
            for m in &self.machines {
                let v = Self::machine_value(m, &k);
                let winner = match self.alternate_binary {
                    Some(alt) => {
                        let r = v.round();
                        if r == 0.0 {
                            alt
                        } else if r == 1.0 {
                            m.target.expect("checked")
                        } else {
                            result =
                                Err(EvalError::Evaluation(format!("expected 0 or 1, got {v}"))
                                    .into());
                            break;
                        }
                    }
                    None => {
                        if v < m.threshold {
                            m.target.expect("checked")
                        } else {
                            m.alternate.expect("checked")
                        }
                    }
                };
                if !order.contains(&winner) {
                    order.push(winner);
                }
                probs[winner as usize] += 1.0;
            }
            let total: f64 = probs.iter().sum();
            let mut best: Option<(u32, f64)> = None;
            for &i in &order {
                if best.is_none_or(|(_, b)| probs[i as usize] > b) {
                    best = Some((i, probs[i as usize]));
                }
            }
            if total > 0.0 {
                probs.iter_mut().for_each(|p| *p /= total);
            }
            label = best
                .map(|(i, _)| node.cats[i as usize])
                .unwrap_or(Val::Missing);
        } else {
            let mut best: Option<(u32, f64)> = None;
            for m in &self.machines {
                let v = Self::machine_value(m, &k);
                let t = m.target.expect("checked");
                probs[t as usize] = v;
                if best.is_none_or(|(_, b)| v < b) {
                    best = Some((t, v));
                }
            }
            label = best
                .map(|(i, _)| node.cats[i as usize])
                .unwrap_or(Val::Missing);
        }
        ctx.s.preds[index].probs = probs;
        ctx.s.preds[index].order = order;
        ctx.s.kernel_vals = k;
        result?;
        crate::models::set_distribution(ctx, index, Some(label), None);
        if !self.one_against_one {
            ctx.s.preds[index].has_probs = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_the_powers_of_two() {
        for (j, t) in EXP2_32THS.iter().enumerate() {
            let want = (j as f64 / 32.0).exp2();
            assert!((t - want).abs() <= f64::EPSILON * want, "2^({j}/32)");
        }
    }

    #[test]
    fn radial_basis_values_are_within_a_few_units_in_the_last_place_of_exp() {
        let mut worst: f64 = 0.0;
        for gamma in [0.0, 1e-9, 0.01, 0.25, 1.0, 3.7] {
            let ks: Vec<f64> = (0..20_000)
                .map(|i| (i as f64 * 0.0137).powi(2) + (i % 7) as f64 * 1e-9)
                .collect();
            let mut got = ks.clone();
            exp_of_non_positive(&mut got, gamma);
            for (k, g) in ks.iter().zip(&got) {
                let want = (-gamma * k).exp();
                if want == 0.0 || want < f64::MIN_POSITIVE {
                    assert_eq!(*g, want, "gamma {gamma} k {k}");
                    continue;
                }
                worst = worst.max(((g - want) / want).abs());
            }
        }
        assert!(
            worst <= 4.0 * f64::EPSILON,
            "worst relative error {worst:e}"
        );
        let mut nan = vec![1.0, f64::NAN];
        exp_of_non_positive(&mut nan, 1.0);
        assert_eq!(nan[0], (-1.0f64).exp());
        assert!(nan[1].is_nan());
    }

    #[test]
    fn kernel_values_equal_one_vector_at_a_time_to_the_bit() {
        // Coordinates in pairs (up to 32) and one at a time (more).
        for dim in [7, 40] {
            // 19 vectors: two blocks of eight and a remainder of three.
            let count = 19;
            let data: Vec<f64> = (0..count * dim)
                .map(|i| ((i * 37 % 101) as f64).sin() * 1e3 + 0.1)
                .collect();
            let x: Vec<f64> = (0..dim).map(|i| (i as f64 * 0.7).cos() * 17.3).collect();
            let vectors = Vectors::from_rows(&data, dim, count);
            let machine = Machine {
                vectors: (0..count as u32).collect(),
                all_vectors: true,
                coefficients: (0..count).map(|i| (i as f64 * 1.3).sin() * 4.0).collect(),
                b: 0.25,
                target: None,
                alternate: None,
                threshold: 0.0,
            };
            let kernels = [
                Kernel::Linear,
                Kernel::Polynomial {
                    gamma: 0.3,
                    coef0: 1.5,
                    degree: 3.0,
                },
                Kernel::Rbf { gamma: 1e-6 },
                Kernel::Sigmoid {
                    gamma: 1e-7,
                    coef0: 0.2,
                },
            ];
            for kernel in kernels {
                let mut out = Vec::new();
                kernel.eval_all(&x, &vectors, &mut out);
                assert_eq!(out.len(), count);
                let mut sums = Vec::new();
                assert_eq!(
                    all_vectors_value(kernel, &vectors, &machine, &x, &mut sums).to_bits(),
                    Svm::machine_value(&machine, &out).to_bits(),
                    "{kernel:?}"
                );
                for (i, v) in data.chunks(dim).enumerate() {
                    let dot = x.iter().zip(v).fold(0.0, |s, (a, b)| s + a * b);
                    let expected = match kernel {
                        Kernel::Linear => dot,
                        Kernel::Polynomial {
                            gamma,
                            coef0,
                            degree,
                        } => (gamma * dot + coef0).powf(degree),
                        Kernel::Rbf { gamma } => {
                            let d = x.iter().zip(v).fold(0.0, |s, (a, b)| s + (a - b) * (a - b));
                            let mut k = [d];
                            exp_of_non_positive(&mut k, gamma);
                            k[0]
                        }
                        Kernel::Sigmoid { gamma, coef0 } => (gamma * dot + coef0).tanh(),
                    };
                    assert_eq!(
                        out[i].to_bits(),
                        expected.to_bits(),
                        "{kernel:?} vector {i}"
                    );
                }
            }
        }
    }
}
