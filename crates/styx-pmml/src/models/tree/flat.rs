//! The trees of an ensemble (the segments of a gradient-boosting sum, a random forest, a
//! bagging vote) compiled into one array of steps, walked without a model dispatch or a
//! prediction record per tree.
//!
//! A record's features (the fields the trees test) are read once. A tree whose features
//! are all numbers that are not NaN (for numeric tests), strings (for string tests) or
//! missing is walked here, selecting the node [`Tree::select`] selects: each step says
//! where a missing feature leads under the tree's missing-value strategy. Every step is a
//! numeric split: a test of a string's membership in a set reads a number made once per
//! record (see [`Feature::Member`]). A tree that
//! reads any other value, or whose walk ends without a prediction, is evaluated the
//! general way, so the result is the same in every case.

use super::{MissingStrategy, Test, Tree};
use crate::eval::{Ctx, Slot};
use crate::predicate::{Cond, Op};
use crate::types::{from_java_key, java_key, Val, DYN};

/// A reference to a step: an index in [`TreeSum::splits`], or with [`OTHER`] set, an
/// index in [`TreeSum::others`].
type Ref = u32;

/// The bit of a [`Ref`] to a step that is not a numeric split.
const OTHER: Ref = 1 << 31;

/// A numeric split: go to `first` when feature `feat` is `<= y`, to `second` when it is
/// greater, and to `missing` when it is missing.
#[derive(Debug, Clone, Copy)]
struct Split {
    y: f64,
    feat: u32,
    first: Ref,
    second: Ref,
    missing: Ref,
}

/// Any other step of a walk.
#[derive(Debug, Clone, Copy)]
enum Other {
    /// The tree's prediction (after the tree's `Targets`).
    Leaf(f64),
    /// The tree's result needs the general evaluation (no prediction, or an error).
    General,
}

/// What the walk reads: a field slot as a number or as a string id, or whether a string
/// feature is one of a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feature {
    /// A slot read as a number.
    Number(Slot),
    /// A slot read as a string id.
    String(Slot),
    /// Whether string feature `source` is in `ids[start..end]`: 1 when it is, 0 when it
    /// is not, NaN when it is missing. A test of set membership is then a numeric split
    /// like the others (`x <= 0.5`: not in the set), with no step of its own kind. When
    /// every id is below 64, `set` has their bits (and `small` is set): a test of one bit.
    Member {
        source: u32,
        start: u32,
        end: u32,
        small: bool,
        set: u64,
    },
}

/// A node predicate in the walk's terms.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FTest {
    True,
    /// `(x <= y) != flip` on a numeric feature (a [`Feature::Member`] among them).
    Le {
        feat: u32,
        y: f64,
        flip: bool,
    },
}

/// One tree of the sum.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// The first step of its walk.
    root: Ref,
    /// The features it reads, one bit each (features from 63 on share the last bit).
    uses: u64,
    /// The tree's model index, for the general evaluation.
    pub model: usize,
    /// Its steps in [`TreeSum::others`] (its leaves among them).
    others: std::ops::Range<u32>,
}

/// The trees of a sum, compiled together.
#[derive(Debug, Clone, Default)]
pub(crate) struct TreeSum {
    splits: Vec<Split>,
    others: Vec<Other>,
    ids: Vec<u32>,
    features: Vec<Feature>,
    members: Vec<Member>,
    /// The leaves in order, when the sum is a median.
    order: Option<Box<LeafOrder>>,
}

/// Every leaf of the sum's trees in one order: by value as Java orders numbers, then by
/// tree. Since each tree ends at one leaf, the trees' predictions sorted by value (equal
/// ones in tree order, as a stable sort leaves them) are the leaves they end at, taken in
/// this order: a median needs no sort.
#[derive(Debug, Clone, Default)]
struct LeafOrder {
    /// The rank of each step of [`TreeSum::others`] (`u32::MAX` for one that is no leaf).
    rank: Vec<u32>,
    /// Per rank: the leaf's value and its tree (an index of [`TreeSum::members`]).
    leaves: Vec<(f64, u32)>,
}

/// The leaves a record's walks end at, one bit per rank of a [`LeafOrder`] (kept between
/// records to reuse its buffer).
#[derive(Debug, Clone, Default)]
pub(crate) struct LeafSet {
    words: Vec<u64>,
}

impl LeafSet {
    /// The ranks set, in increasing order.
    fn ranks(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    w * 64 + bit
                })
            })
        })
    }
}

/// One record's features, as the walk reads them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Record {
    /// Numeric features (NaN when missing).
    nums: Vec<f64>,
    /// String features: interned ids, [`MISSING_ID`] when missing.
    strs: Vec<u32>,
    /// The features whose value the walk cannot use (a NaN, a value of another type).
    bad: u64,
    /// The missing features.
    missing: u64,
}

/// The id of a missing string feature.
const MISSING_ID: u32 = u32::MAX - 1;

/// The bit of feature `i` in [`Member::uses`].
fn bit(i: u32) -> u64 {
    1u64 << i.min(63)
}

/// The string id a feature holds for a string value: interned ids as they are, and one
/// id no constant has for strings built while scoring (they equal no constant).
fn string_id(id: u32) -> u32 {
    if id & DYN != 0 {
        u32::MAX
    } else {
        id
    }
}

impl TreeSum {
    /// The trees, in sum order.
    pub(crate) fn members(&self) -> &[Member] {
        &self.members
    }

    /// Adds `tree` (model `model`) as the next tree of the sum. `leaf` maps a selected node
    /// to what the walk returns for it (a regression tree's prediction after its
    /// `Targets`, an index into a table of distributions), or `None` when the general
    /// evaluation must decide; `usable` says whether a slot may be read for every record.
    pub(crate) fn push(
        &mut self,
        tree: &Tree,
        model: usize,
        leaf: impl Fn(u32) -> Option<f64>,
        usable: impl Fn(Slot) -> bool,
    ) {
        let mut b = Builder {
            sum: self,
            tree,
            leaf: &leaf,
            usable: &usable,
            uses: 0,
            ok: true,
        };
        let splits = b.sum.splits.len();
        let others = b.sum.others.len();
        let ids = b.sum.ids.len();
        let features = b.sum.features.len();
        let root = b.root();
        let (uses, ok) = (b.uses, b.ok);
        let root = if ok {
            root
        } else {
            // A predicate the walk cannot decide: the tree is always evaluated in general.
            self.splits.truncate(splits);
            self.others.truncate(others);
            self.ids.truncate(ids);
            // Sets of its own refer to the ids dropped; no other tree reads them.
            self.features.truncate(features);
            self.other(Other::General)
        };
        let others = others as u32..self.others.len() as u32;
        self.members.push(Member {
            root,
            uses,
            model,
            others,
        });
    }

    /// Orders the leaves of every tree pushed, for [`TreeSum::median`]; too many leaves
    /// for the trees (more bits to scan than a sort of the predictions would take steps)
    /// order none.
    pub(crate) fn order_leaves(&mut self) {
        let leaves: Vec<(u64, u32, u32)> = self
            .members
            .iter()
            .enumerate()
            .flat_map(|(m, member)| member.others.clone().map(move |o| (m, o)))
            .filter_map(|(m, o)| match self.others[o as usize] {
                Other::Leaf(x) => Some((java_key(x), m as u32, o)),
                _ => None,
            })
            .collect();
        if leaves.len() > 64 * 8 * self.members.len().max(1) {
            return;
        }
        let mut sorted = leaves;
        sorted.sort_unstable();
        let mut rank = vec![u32::MAX; self.others.len()];
        for (r, (_, _, o)) in sorted.iter().enumerate() {
            rank[*o as usize] = r as u32;
        }
        let leaves = sorted
            .iter()
            .map(|(key, m, _)| (from_java_key(*key), *m))
            .collect();
        self.order = Some(Box::new(LeafOrder { rank, leaves }));
    }

    /// The median of the trees' predictions as JPMML takes it, walking every tree, when
    /// the leaves are ordered and every walk ends at a leaf (`None` otherwise): with
    /// `weight` of each tree (an index of [`TreeSum::members`]), the first prediction in
    /// order at which the running sum of weights reaches half the total (the total summed
    /// in that order, each step rounded by `round`); without, the middle prediction, or
    /// the mean of the two middle ones.
    pub(crate) fn median(
        &self,
        r: &Record,
        set: &mut LeafSet,
        weight: Option<&dyn Fn(u32) -> f64>,
        round: impl Fn(f64) -> f64,
    ) -> Option<f64> {
        let order = self.order.as_ref()?;
        if self.members.is_empty() {
            return None;
        }
        set.words.clear();
        set.words.resize(order.leaves.len().div_ceil(64), 0);
        for member in &self.members {
            let (leaf, _) = self.walk_leaf(member, r)?;
            let rank = order.rank[leaf as usize] as usize;
            set.words[rank / 64] |= 1 << (rank % 64);
        }
        let Some(weight) = weight else {
            let n = self.members.len();
            let mut middle = set.ranks().skip((n - 1) / 2).map(|k| order.leaves[k].0);
            let first = middle.next()?;
            return Some(if n % 2 == 1 {
                first
            } else {
                (first + middle.next()?) / 2.0
            });
        };
        let total = set
            .ranks()
            .fold(0.0, |sum, k| round(sum + weight(order.leaves[k].1)));
        let threshold = 0.5 * total;
        let mut sum = 0.0;
        for k in set.ranks() {
            let (value, member) = order.leaves[k];
            sum += weight(member);
            if sum >= threshold {
                return Some(value);
            }
        }
        Some(f64::NAN)
    }

    fn split(&mut self, split: Split) -> Ref {
        self.splits.push(split);
        (self.splits.len() - 1) as Ref
    }

    fn other(&mut self, other: Other) -> Ref {
        self.others.push(other);
        (self.others.len() - 1) as Ref | OTHER
    }

    fn feature(&mut self, f: Feature) -> u32 {
        match self.features.iter().position(|x| *x == f) {
            Some(i) => i as u32,
            None => {
                self.features.push(f);
                (self.features.len() - 1) as u32
            }
        }
    }

    /// Reads the record's features.
    #[inline]
    pub(crate) fn load(&self, ctx: &mut Ctx<'_>, r: &mut Record) {
        let n = self.features.len();
        r.nums.resize(n, 0.0);
        r.strs.resize(n, 0);
        r.bad = 0;
        r.missing = 0;
        for (i, f) in self.features.iter().enumerate() {
            let (slot, string) = match *f {
                Feature::Number(slot) => (slot, false),
                Feature::String(slot) => (slot, true),
                // A set's source comes before it; trees that test the set read the
                // source's missing and unusable bits.
                Feature::Member {
                    source,
                    start,
                    end,
                    small,
                    set,
                } => {
                    let id = r.strs[source as usize];
                    let found = if small {
                        id < 64 && (set >> id) & 1 != 0
                    } else {
                        self.ids[start as usize..end as usize].contains(&id)
                    };
                    r.nums[i] = if id == MISSING_ID {
                        f64::NAN
                    } else {
                        f64::from(u8::from(found))
                    };
                    continue;
                }
            };
            // A value that cannot be read (an invalid value to be refused) is left to the
            // general evaluation, which fails only if a tree reads it, as JPMML does.
            let Ok(v) = ctx.get(slot) else {
                r.bad |= bit(i as u32);
                continue;
            };
            match (v, string) {
                // NaN and -0.0 order differently in JPMML than in IEEE comparisons: the
                // general evaluation takes those.
                (Val::Num(x), false) if !x.is_nan() && x.to_bits() != (-0.0f64).to_bits() => {
                    r.nums[i] = x
                }
                (Val::Str(id), true) => r.strs[i] = string_id(id),
                (Val::Missing, false) => {
                    r.nums[i] = f64::NAN;
                    r.missing |= bit(i as u32);
                }
                (Val::Missing, true) => {
                    r.strs[i] = MISSING_ID;
                    r.missing |= bit(i as u32);
                }
                _ => r.bad |= bit(i as u32),
            }
        }
    }

    /// Walks a tree: its prediction, or `None` when the general evaluation decides (the
    /// tree reads a feature that is not usable, or the walk ends without a prediction).
    #[inline]
    pub(crate) fn walk(&self, member: &Member, r: &Record) -> Option<f64> {
        self.walk_leaf(member, r).map(|(_, x)| x)
    }

    /// Walks a tree as [`TreeSum::walk`] does: the leaf it ends at (an index of
    /// [`TreeSum::others`]) and its prediction.
    #[inline]
    fn walk_leaf(&self, member: &Member, r: &Record) -> Option<(u32, f64)> {
        if member.uses & r.bad != 0 {
            None
        } else if member.uses & r.missing != 0 {
            self.walk_from::<true>(member.root, r)
        } else {
            self.walk_from::<false>(member.root, r)
        }
    }

    /// The walk from step `cur`; `MISSING`: some features it reads may be missing.
    #[inline(always)]
    fn walk_from<const MISSING: bool>(&self, mut cur: Ref, r: &Record) -> Option<(u32, f64)> {
        while cur & OTHER == 0 {
            let s = &self.splits[cur as usize];
            let x = r.nums[s.feat as usize];
            cur = if x <= s.y {
                s.first
            } else if MISSING && x.is_nan() {
                s.missing
            } else {
                s.second
            };
        }
        match self.others[(cur & !OTHER) as usize] {
            Other::Leaf(x) => Some((cur & !OTHER, x)),
            Other::General => None,
        }
    }
}

/// Compiles one tree into the steps of a [`TreeSum`].
struct Builder<'a, L, U> {
    sum: &'a mut TreeSum,
    tree: &'a Tree,
    leaf: &'a L,
    usable: &'a U,
    uses: u64,
    /// Every predicate is one the walk decides.
    ok: bool,
}

impl<L: Fn(u32) -> Option<f64>, U: Fn(Slot) -> bool> Builder<'_, L, U> {
    /// The walk from the root: the root's predicate must hold.
    fn root(&mut self) -> Ref {
        let test = self.test(0);
        match test {
            FTest::True => self.node(0),
            _ => {
                let first = self.node(0);
                let second = self.sum.other(Other::General);
                self.branch(test, first, second, second)
            }
        }
    }

    /// The predicate of node `i`.
    fn test(&mut self, i: u32) -> FTest {
        let hot = &self.tree.layout.hot[i as usize];
        match hot.test {
            Test::True => FTest::True,
            Test::Cmp { slot, y, flip } => {
                if !(self.usable)(slot) {
                    self.ok = false;
                    return FTest::True;
                }
                let feat = self.sum.feature(Feature::Number(slot));
                self.uses |= bit(feat);
                FTest::Le { feat, y, flip }
            }
            Test::General => match self.string_test(&self.tree.nodes[i as usize].cond) {
                Some(t) => t,
                None => {
                    self.ok = false;
                    FTest::True
                }
            },
        }
    }

    /// A string equality or set membership on a usable slot, with interned constants.
    fn string_test(&mut self, cond: &Cond) -> Option<FTest> {
        let (slot, values, negate) = match cond {
            Cond::Compare {
                slot,
                op: op @ (Op::Equal | Op::NotEqual),
                value: value @ Val::Str(_),
                ..
            } => (*slot, std::slice::from_ref(value), *op == Op::NotEqual),
            Cond::In {
                slot,
                values,
                negate,
            } => (*slot, values.as_slice(), *negate),
            _ => return None,
        };
        if !(self.usable)(slot) {
            return None;
        }
        let start = self.sum.ids.len() as u32;
        for v in values {
            match *v {
                Val::Str(id) if id & DYN == 0 => self.sum.ids.push(id),
                _ => return None,
            }
        }
        let end = self.sum.ids.len() as u32;
        let source = self.sum.feature(Feature::String(slot));
        self.uses |= bit(source);
        let ids = &self.sum.ids[start as usize..end as usize];
        let small = ids.iter().all(|id| *id < 64);
        let set = if small {
            ids.iter().fold(0u64, |set, id| set | 1 << id)
        } else {
            0
        };
        // A set tested before is read once.
        let same = self.sum.features.iter().position(|f| match *f {
            Feature::Member {
                source: s,
                start: a,
                end: b,
                ..
            } => s == source && self.sum.ids[a as usize..b as usize] == *ids,
            _ => false,
        });
        let feat = match same {
            Some(feat) => {
                self.sum.ids.truncate(start as usize);
                feat as u32
            }
            None => self.sum.feature(Feature::Member {
                source,
                start,
                end,
                small,
                set,
            }),
        };
        // In the set: above 0.5.
        Some(FTest::Le {
            feat,
            y: 0.5,
            flip: !negate,
        })
    }

    /// A step that goes to `first` when `test` holds, to `second` when it does not, and
    /// to `missing` when its feature is missing.
    fn branch(&mut self, test: FTest, first: Ref, second: Ref, missing: Ref) -> Ref {
        match test {
            FTest::True => first,
            FTest::Le { feat, y, flip } => {
                let (first, second) = if flip {
                    (second, first)
                } else {
                    (first, second)
                };
                self.sum.split(Split {
                    y,
                    feat,
                    first,
                    second,
                    missing,
                })
            }
        }
    }

    /// The node's prediction as a step, or the general evaluation without one.
    fn score_step(&mut self, i: u32) -> Ref {
        match (self.leaf)(i) {
            Some(x) => self.sum.other(Other::Leaf(x)),
            None => self.sum.other(Other::General),
        }
    }

    /// The walk from node `i`, whose predicate holds: its children are tested in order and
    /// the first whose predicate holds is taken; when none does, the node's own prediction
    /// (`returnLastPrediction`) or none. A predicate on a missing feature is handled per
    /// the tree's missing-value strategy.
    fn node(&mut self, i: u32) -> Ref {
        let (start, end) = self.tree.layout.hot[i as usize].kids;
        if start == end {
            return self.score_step(i);
        }
        let kids: Vec<u32> = self.tree.layout.kids[start as usize..end as usize].to_vec();
        let tests: Vec<FTest> = kids.iter().map(|&k| self.test(k)).collect();
        let entries: Vec<Ref> = kids.iter().map(|&k| self.node(k)).collect();
        let default = self.tree.nodes[i as usize]
            .default_child
            .and_then(|d| kids.iter().position(|&k| k == d))
            .map(|p| entries[p]);
        // `from[j]`: the walk from the `j`th child on.
        let n = kids.len();
        let mut from = vec![0; n + 1];
        // `returnLastPrediction` takes a node with a score only.
        from[n] = if self.tree.return_last && self.tree.score(i).is_some() {
            self.score_step(i)
        } else {
            self.sum.other(Other::General)
        };
        for j in (0..n).rev() {
            let test = tests[j];
            if test == FTest::True {
                from[j] = entries[j];
                continue;
            }
            // The next child's predicate is the complement: it holds whenever this one
            // fails (and is unknown when this one is).
            let complement = match (test, tests.get(j + 1)) {
                (
                    FTest::Le { feat, y, flip },
                    Some(&FTest::Le {
                        feat: f2,
                        y: y2,
                        flip: flip2,
                    }),
                ) => f2 == feat && y2.to_bits() == y.to_bits() && flip2 != flip,
                _ => false,
            };
            let second = if complement {
                entries[j + 1]
            } else {
                from[j + 1]
            };
            let missing = match self.tree.missing {
                MissingStrategy::None if complement => from[j + 2],
                MissingStrategy::None => second,
                MissingStrategy::NullPrediction => self.sum.other(Other::General),
                MissingStrategy::LastPrediction => self.score_step(i),
                MissingStrategy::DefaultChild => match default {
                    Some(d) => d,
                    None => self.sum.other(Other::General),
                },
            };
            from[j] = self.branch(test, entries[j], second, missing);
        }
        from[0]
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::{Model, ResultValue, Row};

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    }

    /// The attribute values `value="..."` of a document: split thresholds and categories.
    fn constants(text: &str) -> Vec<String> {
        let mut out: Vec<String> = text
            .split("value=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_string)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// A text near `t` when it is a number: itself, or the double just below or above.
    fn near(t: &str, rng: &mut Rng) -> String {
        match t.parse::<f64>() {
            Ok(x) if x.is_finite() => {
                let bits = x.to_bits();
                let y = match rng.below(3) {
                    0 => x,
                    1 => f64::from_bits(bits.wrapping_add(1)),
                    _ => f64::from_bits(bits.wrapping_sub(1)),
                };
                format!("{y:?}")
            }
            _ => t.to_string(),
        }
    }

    fn same(a: ResultValue<'_>, b: ResultValue<'_>) -> bool {
        match (a, b) {
            (ResultValue::Number(x), ResultValue::Number(y)) => x.to_bits() == y.to_bits(),
            (ResultValue::Float(x), ResultValue::Float(y)) => x.to_bits() == y.to_bits(),
            _ => a == b,
        }
    }

    /// Scores `rows` with the sum of trees and with every tree as its own segment; the
    /// results (or errors) must be identical, bit for bit.
    fn compare(case: &str, fast: &Model, general: &Model, rows: &[Row]) {
        let (mut s1, mut s2) = (fast.scratch(), general.scratch());
        for (i, row) in rows.iter().enumerate() {
            let r1 = fast.evaluate(row, &mut s1);
            let r2 = general.evaluate(row, &mut s2);
            match (&r1, &r2) {
                (Ok(()), Ok(())) => {
                    for col in 0..fast.result_columns().len() {
                        let (a, b) = (fast.result(&s1, col), general.result(&s2, col));
                        assert!(
                            same(a, b),
                            "{case} row {i} {row:?} column {col}: {a:?} != {b:?}"
                        );
                    }
                }
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{case} row {i}"),
                _ => panic!("{case} row {i}: {r1:?} != {r2:?}"),
            }
        }
    }

    #[test]
    fn sums_of_trees_score_as_their_segments() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures())
            .expect("fixtures")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.join("model.pmml").exists() && p.join("input.csv").exists())
            .collect();
        cases.sort();
        let mut compiled = 0;
        for dir in cases {
            let case = dir.file_name().unwrap().to_string_lossy().to_string();
            let text = std::fs::read_to_string(dir.join("model.pmml")).expect("model");
            let Ok(fast) = Model::parse(&text) else {
                continue;
            };
            if fast.tree_sums() == 0 {
                continue;
            }
            compiled += 1;
            let general = fast.without_tree_sums();
            assert_eq!(general.tree_sums(), 0);
            let input = std::fs::File::open(dir.join("input.csv")).expect("input");
            let rows = crate::rows_from_csv(&fast, input).expect("rows");
            compare(&case, &fast, &general, &rows);
            // Random records: cells of the input, missing cells, the document's constants
            // and numbers next to them, NaN and unknown text.
            let n = fast.input_fields().len();
            let columns: Vec<Vec<String>> = (0..n)
                .map(|f| {
                    rows.iter()
                        .filter_map(|r| match r.cell(f) {
                            crate::Cell::Text(t) => Some(t.to_string()),
                            _ => None,
                        })
                        .collect()
                })
                .collect();
            let consts = constants(&text);
            let mut random = Vec::new();
            for _ in 0..3000 {
                let mut row = fast.new_row();
                for (f, column) in columns.iter().enumerate() {
                    match rng.below(20) {
                        0..=9 if !column.is_empty() => {
                            row.set_text(f, &column[rng.below(column.len())])
                        }
                        10..=15 if !consts.is_empty() => {
                            let c = &consts[rng.below(consts.len())];
                            let t = near(c, &mut rng);
                            row.set_text(f, &t)
                        }
                        16 => row.set_text(f, "NaN"),
                        17 if rng.below(4) == 0 => row.set_text(f, "no such value"),
                        _ => row.set_missing(f),
                    }
                }
                random.push(row);
            }
            compare(&case, &fast, &general, &random);
        }
        assert!(
            compiled >= 5,
            "only {compiled} documents have a sum of trees"
        );
    }

    /// A random tree node (and its subtree) of a `TreeModel`.
    fn random_node(
        rng: &mut Rng,
        out: &mut String,
        id: &mut u32,
        depth: u32,
        pred: &str,
        classes: bool,
    ) {
        let me = *id;
        *id += 1;
        let score = if rng.below(10) == 0 {
            String::new()
        } else if classes {
            format!(" score=\"{}\"", ["a", "b", "c"][rng.below(3)])
        } else {
            format!(" score=\"{}\"", [-1.5, 0.25, 3.0, 0.1, 7.0][rng.below(5)])
        };
        let mut dist = String::new();
        if classes && rng.below(5) != 0 {
            let probability = rng.below(3) == 0;
            for class in ["a", "b", "c"] {
                if rng.below(4) == 0 {
                    continue;
                }
                let count = [0.0, 1.0, 2.5, 7.0, 0.25][rng.below(5)];
                let p = if probability {
                    format!(" probability=\"{}\"", [0.0, 0.5, 0.25, 1.0][rng.below(4)])
                } else {
                    String::new()
                };
                dist.push_str(&format!(
                    "<ScoreDistribution value=\"{class}\" recordCount=\"{count}\"{p}/>"
                ));
            }
        }
        let kids = if depth >= 4 || rng.below(4) == 0 {
            0
        } else {
            1 + rng.below(3)
        };
        let mut body = String::new();
        let mut kid_ids = Vec::new();
        let mut k = 0;
        while k < kids {
            let x = rng.below(3);
            let y = ["-1", "0", "0.5", "1"][rng.below(4)];
            let (a, b) = [
                ("lessOrEqual", "greaterThan"),
                ("lessThan", "greaterOrEqual"),
                ("greaterThan", "lessOrEqual"),
                ("greaterOrEqual", "lessThan"),
            ][rng.below(4)];
            let simple = |op: &str| {
                format!("<SimplePredicate field=\"x{x}\" operator=\"{op}\" value=\"{y}\"/>")
            };
            let preds: Vec<String> = match rng.below(8) {
                // A binary split: a comparison and its complement.
                0..=2 => vec![simple(a), simple(b)],
                3 => vec![simple(a)],
                4 => vec!["<SimplePredicate field=\"c\" operator=\"equal\" value=\"a\"/>".into()],
                5 => vec![format!(
                    "<SimpleSetPredicate field=\"c\" booleanOperator=\"{}\"><Array type=\"string\">a b</Array></SimpleSetPredicate>",
                    ["isIn", "isNotIn"][rng.below(2)]
                )],
                6 => vec!["<True/>".into()],
                _ => vec![format!("<SimplePredicate field=\"x{x}\" operator=\"isMissing\"/>")],
            };
            for p in preds {
                kid_ids.push(*id);
                random_node(rng, &mut body, id, depth + 1, &p, classes);
                k += 1;
            }
        }
        let default = if kid_ids.is_empty() {
            String::new()
        } else {
            format!(" defaultChild=\"{}\"", kid_ids[rng.below(kid_ids.len())])
        };
        out.push_str(&format!(
            "<Node id=\"{me}\"{score}{default}>{pred}{dist}{body}</Node>"
        ));
    }

    /// What [`random_document`] makes.
    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        /// A regression sum, average or median of up to five trees.
        Regression,
        /// A median or weighted median of two to eleven regression trees, weighed with
        /// weights whose sums round differently in different orders.
        Median,
        /// An aggregation of classification trees.
        Classes,
    }

    /// A random aggregation of trees over three numbers and one string.
    fn random_document(rng: &mut Rng, kind: Kind) -> String {
        let classes = kind == Kind::Classes;
        let function = if classes {
            "classification"
        } else {
            "regression"
        };
        let fields = "<MiningField name=\"x0\"/><MiningField name=\"x1\"/><MiningField name=\"x2\"/><MiningField name=\"c\"/>";
        let mut trees = String::new();
        let trees_count = match kind {
            Kind::Median => 2 + rng.below(10),
            _ => 1 + rng.below(5),
        };
        for _ in 0..trees_count {
            let strategy =
                ["none", "nullPrediction", "lastPrediction", "defaultChild"][rng.below(4)];
            let last = ["returnNullPrediction", "returnLastPrediction"][rng.below(2)];
            let context = if rng.below(4) == 0 {
                " x-mathContext=\"float\""
            } else {
                ""
            };
            let targets = if rng.below(4) == 0 {
                "<Targets><Target rescaleFactor=\"2\" rescaleConstant=\"0.5\"/></Targets>"
            } else {
                ""
            };
            let root = if rng.below(5) == 0 {
                "<SimplePredicate field=\"x0\" operator=\"lessThan\" value=\"1\"/>"
            } else {
                "<True/>"
            };
            let mut node = String::new();
            random_node(rng, &mut node, &mut 1, 0, root, classes);
            let targets = if classes { "" } else { targets };
            trees.push_str(&format!(
                "<Segment weight=\"{}\"><True/><TreeModel functionName=\"{function}\" missingValueStrategy=\"{strategy}\" noTrueChildStrategy=\"{last}\"{context}><MiningSchema>{fields}</MiningSchema>{targets}{node}</TreeModel></Segment>",
                match kind {
                    Kind::Median => [1.0, 0.1, 0.2, 0.3, 0.7][rng.below(5)],
                    _ => [1.0, 0.5, 2.0][rng.below(3)],
                }
            ));
        }
        let treatment = ["returnMissing", "skipSegment", "continue"][rng.below(3)];
        let method = if kind == Kind::Median {
            ["median", "weightedMedian"][rng.below(2)]
        } else if classes {
            [
                "average",
                "weightedAverage",
                "majorityVote",
                "weightedMajorityVote",
                "median",
                "max",
            ][rng.below(6)]
        } else {
            [
                "sum",
                "weightedSum",
                "average",
                "weightedAverage",
                "median",
                "weightedMedian",
            ][rng.below(6)]
        };
        let (target, output) = if classes {
            (
                "<DataField name=\"y\" optype=\"categorical\" dataType=\"string\"><Value value=\"a\"/><Value value=\"b\"/><Value value=\"c\"/></DataField>",
                "<Output><OutputField name=\"pa\" feature=\"probability\" value=\"a\"/><OutputField name=\"pb\" feature=\"probability\" value=\"b\"/><OutputField name=\"pc\" feature=\"probability\" value=\"c\"/></Output>",
            )
        } else {
            (
                "<DataField name=\"y\" optype=\"continuous\" dataType=\"double\"/>",
                "",
            )
        };
        let context = if rng.below(4) == 0 {
            " x-mathContext=\"float\""
        } else {
            ""
        };
        format!(
            "<PMML xmlns=\"http://www.dmg.org/PMML-4_4\" version=\"4.4\"><DataDictionary>\
             <DataField name=\"x0\" optype=\"continuous\" dataType=\"double\"/>\
             <DataField name=\"x1\" optype=\"continuous\" dataType=\"double\"/>\
             <DataField name=\"x2\" optype=\"continuous\" dataType=\"double\"/>\
             <DataField name=\"c\" optype=\"categorical\" dataType=\"string\"/>\
             {target}</DataDictionary>\
             <MiningModel functionName=\"{function}\"{context}><MiningSchema><MiningField name=\"y\" usageType=\"target\"/>{fields}</MiningSchema>{output}\
             <Segmentation multipleModelMethod=\"{method}\" missingPredictionTreatment=\"{treatment}\">{trees}</Segmentation></MiningModel></PMML>"
        )
    }

    #[test]
    fn random_sums_of_trees_score_as_their_segments() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut compiled = 0;
        for doc in 0..900 {
            let kind = [Kind::Regression, Kind::Classes, Kind::Median][doc % 3];
            let text = random_document(&mut rng, kind);
            let fast = match Model::parse(&text) {
                Ok(m) => m,
                Err(e) => panic!("document {doc}: {e}\n{text}"),
            };
            assert_eq!(fast.tree_sums(), 1, "{text}");
            compiled += 1;
            let general = fast.without_tree_sums();
            let mut rows = Vec::new();
            for _ in 0..200 {
                let mut row = fast.new_row();
                for f in 0..3 {
                    match rng.below(10) {
                        0 => row.set_missing(f),
                        1 => row.set_text(f, "NaN"),
                        k => {
                            row.set_text(f, ["-1", "0", "0.5", "1", "0.25", "2", "-3", "1"][k - 2])
                        }
                    }
                }
                match rng.below(6) {
                    0 => row.set_missing(3),
                    k => row.set_text(3, ["a", "b", "c", "z", "a"][k - 1]),
                }
                rows.push(row);
            }
            compare(&format!("document {doc} {text}"), &fast, &general, &rows);
        }
        assert_eq!(compiled, 900);
    }

    /// A binary tree of `depth` levels over `x0`..`x2`, every node with a score: each walk
    /// ends at a leaf.
    fn full_tree(rng: &mut Rng, out: &mut String, depth: u32, pred: &str) {
        let score = [-2.0, -0.5, 0.0, 0.25, 1.0, 3.0, 7.5][rng.below(7)];
        out.push_str(&format!("<Node score=\"{score}\">{pred}"));
        if depth > 0 {
            let (x, y) = (rng.below(3), ["-1", "0", "0.5", "1"][rng.below(4)]);
            for op in ["lessOrEqual", "greaterThan"] {
                let p =
                    format!("<SimplePredicate field=\"x{x}\" operator=\"{op}\" value=\"{y}\"/>");
                full_tree(rng, out, depth - 1, &p);
            }
        }
        out.push_str("</Node>");
    }

    #[test]
    fn medians_of_trees_whose_walks_all_end_at_leaves_are_those_of_their_segments() {
        let mut rng = Rng(0x5851_f42d_4c95_7f2d);
        for doc in 0..300 {
            let method = ["median", "weightedMedian"][doc % 2];
            let context = ["", " x-mathContext=\"float\""][rng.below(2)];
            let mut trees = String::new();
            for _ in 0..2 + rng.below(11) {
                let mut node = String::new();
                let depth = 1 + rng.below(3) as u32;
                full_tree(&mut rng, &mut node, depth, "<True/>");
                // Equal weights make the running sum meet half the total exactly; the
                // others sum differently in different orders.
                let weight = [1.0, 1.0, 0.1, 0.2, 0.3, 0.7][rng.below(6)];
                trees.push_str(&format!(
                    "<Segment weight=\"{weight}\"><True/><TreeModel functionName=\"regression\"{context}><MiningSchema><MiningField name=\"x0\"/><MiningField name=\"x1\"/><MiningField name=\"x2\"/></MiningSchema>{node}</TreeModel></Segment>"
                ));
            }
            let text = format!(
                "<PMML xmlns=\"http://www.dmg.org/PMML-4_4\" version=\"4.4\"><DataDictionary>\
                 <DataField name=\"x0\" optype=\"continuous\" dataType=\"double\"/>\
                 <DataField name=\"x1\" optype=\"continuous\" dataType=\"double\"/>\
                 <DataField name=\"x2\" optype=\"continuous\" dataType=\"double\"/>\
                 <DataField name=\"y\" optype=\"continuous\" dataType=\"double\"/></DataDictionary>\
                 <MiningModel functionName=\"regression\"{context}><MiningSchema><MiningField name=\"y\" usageType=\"target\"/>\
                 <MiningField name=\"x0\"/><MiningField name=\"x1\"/><MiningField name=\"x2\"/></MiningSchema>\
                 <Segmentation multipleModelMethod=\"{method}\">{trees}</Segmentation></MiningModel></PMML>"
            );
            let fast = Model::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(fast.tree_sums(), 1, "{text}");
            let general = fast.without_tree_sums();
            let rows: Vec<Row> = (0..100)
                .map(|_| {
                    let mut row = fast.new_row();
                    for f in 0..3 {
                        row.set_text(
                            f,
                            ["-1.5", "-1", "0", "0.25", "0.5", "1", "2"][rng.below(7)],
                        );
                    }
                    row
                })
                .collect();
            compare(&format!("document {doc} {text}"), &fast, &general, &rows);
        }
    }
}
