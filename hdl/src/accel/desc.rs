//! The accelerator's per-layer descriptor tables, one definition each: [`IssueRow`] (the issue unit),
//! [`WriterRow`] (the activation writer) and [`TopRow`] (the controller). Each is declared once with
//! [`desc_table!`], which generates the row struct with named 16-bit fields, one column constant per field (its
//! index in the emitted [`super::mem::Table`], `field$<column>` in the Verilog), the field count and
//! [`IssueRow::to_words`]-style column-order serialisation. The plan fills rows by name; the rust-hdl blocks read
//! the table through the column constants, so reordering the fields of a definition reorders the table and its
//! readers together.
//!
//! Every field is an unsigned 16-bit word; values that are "minus one" or negative (padding) are stored wrapping
//! modulo `2^16`, as the 16-bit counters they load expect.

/// Declares a descriptor row: `struct Name { field => COLUMN, … }` generates `pub struct Name` with `pub field: u16`,
/// the associated constants `Name::COLUMN` (column index, declaration order from 0) and `Name::FIELDS`, and
/// `Name::to_words` (the row in column order).
macro_rules! desc_table {
    (
        $(#[$meta:meta])*
        pub struct $row:ident {
            $( $(#[$fmeta:meta])* $field:ident => $col:ident ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $row {
            $( $(#[$fmeta])* pub $field: u16, )+
        }

        impl $row {
            desc_table!(@cols 0usize; $($field $col)+);

            /// Fields (table columns) per row.
            pub const FIELDS: usize = [$(stringify!($field)),+].len();

            /// The row as table words, in column order.
            pub fn to_words(&self) -> Vec<u16> {
                vec![$(self.$field),+]
            }
        }
    };
    (@cols $n:expr; $field:ident $col:ident $($rest:ident)*) => {
        #[doc = concat!("Table column of `", stringify!($field), "`.")]
        pub const $col: usize = $n;
        desc_table!(@cols $n + 1; $($rest)*);
    };
    (@cols $n:expr;) => {};
}

desc_table! {
    /// The issue unit's descriptor of one layer. The fields from `perlane` to `beats_m1` are read while the layer
    /// runs, `iy_first` and `pos_first` only when it starts; the `*_m2` fields are the counters' last values minus
    /// one (wrapping), for the end flags, so no subtracter follows the table.
    pub struct IssueRow {
        /// Per-lane im2col flag (1: the layer reads the input buffer one im2col element per lane).
        perlane => PERLANE,
        /// Cycles per group − 1 (beats plus bubbles).
        group_cycles_m1 => GROUP_CYCLES_M1,
        /// Output groups − 1.
        groups_m1 => GROUPS_M1,
        /// Output columns − 1.
        ow_m1 => OW_M1,
        /// Output rows − 1.
        oh_m1 => OH_M1,
        /// Words per source position − 1.
        cw_m1 => CW_M1,
        /// Kernel width − 1.
        kw_m1 => KW_M1,
        /// Input height.
        in_h => IN_H,
        /// Input width.
        in_w => IN_W,
        /// Position step along x: `sx·CW`.
        step_x => STEP_X,
        /// Row step: `sy·W·CW`.
        step_y => STEP_Y,
        /// Offset jump at the end of a kernel row: `(W − kw)·CW + 1`.
        krow_jump => KROW_JUMP,
        /// First input column: `−pad_left` (wrapping).
        ix_first => IX_FIRST,
        /// Stride along y.
        sy => SY,
        /// Stride along x.
        sx => SX,
        /// Beats − 1.
        beats_m1 => BEATS_M1,
        /// First input row: `−pad_top` (wrapping).
        iy_first => IY_FIRST,
        /// First position base: `(−pad_top·W − pad_left)·CW` (wrapping).
        pos_first => POS_FIRST,
        /// Cycles per group − 2 (wrapping).
        group_cycles_m2 => GROUP_CYCLES_M2,
        /// Output groups − 2 (wrapping).
        groups_m2 => GROUPS_M2,
        /// Output columns − 2 (wrapping).
        ow_m2 => OW_M2,
        /// Output rows − 2 (wrapping).
        oh_m2 => OH_M2,
        /// Words per source position − 2 (wrapping).
        cw_m2 => CW_M2,
        /// Kernel width − 2 (wrapping).
        kw_m2 => KW_M2,
        /// Beats − 2 (wrapping).
        beats_m2 => BEATS_M2,
        /// Digit passes per group − 1 (`D_a·D_w − 1`; 0: one pass).
        passes_m1 => PASSES_M1,
        /// Digit passes per group − 2 (wrapping).
        passes_m2 => PASSES_M2,
        /// The layer's first row in the pass table.
        pass_base => PASS_BASE,
        /// Weight words per output group: `D_w·beats`.
        group_words => GROUP_WORDS,
        /// Weight word offset of the first pass within its group.
        woff_first => WOFF_FIRST,
    }
}

desc_table! {
    /// One digit pass of a layer (rows in pass order, layers one after another; see [`super::plan::Pass`]).
    pub struct PassRow {
        /// Right shift of the activation codes that selects this pass's digit: `k·j`.
        shamt => SHAMT,
        /// 1: the pass starts with a Horner step (its digit weight is `2^k` below the previous pass's).
        shift => SHIFT,
        /// Weight word offset (within the group) of the pass that follows this one (the first pass after the last).
        woff_next => WOFF_NEXT,
    }
}

desc_table! {
    /// The activation writer's descriptor of one layer that outputs codes (all zeros for the last layer).
    pub struct WriterRow {
        /// Output groups − 1.
        groups_m1 => GROUPS_M1,
        /// Output columns − 1 (before pooling).
        ow_m1 => OW_M1,
        /// Output rows − 1 (before pooling).
        oh_m1 => OH_M1,
        /// Pool window rows − 1.
        pool_y_m1 => POOL_Y_M1,
        /// Pool window columns − 1.
        pool_x_m1 => POOL_X_M1,
        /// Pooled columns `PW`.
        pw => PW,
        /// Pooled rows `PH`.
        ph => PH,
        /// Output words per position − 1 (`CWo − 1`).
        cwo_m1 => CWO_M1,
        /// Pooled position step `CWo`.
        cwo => CWO,
        /// Pooled row step `PW·CWo`.
        row_step => ROW_STEP,
        /// Largest output code `2^k_a − 1`.
        code_max => CODE_MAX,
    }
}

desc_table! {
    /// The controller's descriptor of one layer.
    pub struct TopRow {
        /// Source bank code ([`super::plan::Bank::code`]).
        src => SRC,
        /// Destination bank code.
        dst => DST,
        /// 1 for the last layer (it writes logits).
        last => LAST,
        /// First requantization slot of the layer in every PACT unit.
        ch_base => CH_BASE,
        /// Output groups − 1.
        groups_m1 => GROUPS_M1,
        /// 1 when the layer's weights are two's-complement integers (imported), 0 for odd codes.
        twos => TWOS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_the_declaration_order() {
        let row = WriterRow {
            groups_m1: 1,
            ow_m1: 2,
            oh_m1: 3,
            pool_y_m1: 4,
            pool_x_m1: 5,
            pw: 6,
            ph: 7,
            cwo_m1: 8,
            cwo: 9,
            row_step: 10,
            code_max: 11,
        };
        let words = row.to_words();
        assert_eq!(words.len(), WriterRow::FIELDS);
        assert_eq!(words[WriterRow::GROUPS_M1], row.groups_m1);
        assert_eq!(words[WriterRow::PW], row.pw);
        assert_eq!(words[WriterRow::CODE_MAX], row.code_max);
        assert_eq!(IssueRow::FIELDS, IssueRow::WOFF_FIRST + 1);
        assert_eq!(TopRow::FIELDS, TopRow::TWOS + 1);
    }
}
