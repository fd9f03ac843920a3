//! The name of the generated top module and its file: rust-hdl always names its top `top`; the emit step renames
//! that one module declaration to a [`TopName`] (`pact_accel` by default, `pact gen --top NAME`), written into
//! `NAME.v`, so the file and its top module match (Verilator's DECLFILENAME).
use crate::HdlError;

/// Default top module name.
pub const DEFAULT_TOP: &str = "pact_accel";

/// Verilog-2005 and SystemVerilog reserved words that are simple identifiers otherwise.
const KEYWORDS: &[&str] = &[
    "always",
    "and",
    "assign",
    "automatic",
    "begin",
    "buf",
    "bufif0",
    "bufif1",
    "case",
    "casex",
    "casez",
    "cell",
    "cmos",
    "config",
    "deassign",
    "default",
    "defparam",
    "design",
    "disable",
    "edge",
    "else",
    "end",
    "endcase",
    "endconfig",
    "endfunction",
    "endgenerate",
    "endmodule",
    "endprimitive",
    "endspecify",
    "endtable",
    "endtask",
    "event",
    "for",
    "force",
    "forever",
    "fork",
    "function",
    "generate",
    "genvar",
    "highz0",
    "highz1",
    "if",
    "ifnone",
    "incdir",
    "include",
    "initial",
    "inout",
    "input",
    "instance",
    "integer",
    "join",
    "large",
    "liblist",
    "library",
    "localparam",
    "logic",
    "macromodule",
    "medium",
    "module",
    "nand",
    "negedge",
    "nmos",
    "nor",
    "noshowcancelled",
    "not",
    "notif0",
    "notif1",
    "or",
    "output",
    "parameter",
    "pmos",
    "posedge",
    "primitive",
    "pull0",
    "pull1",
    "pulldown",
    "pullup",
    "pulsestyle_onevent",
    "pulsestyle_ondetect",
    "rcmos",
    "real",
    "realtime",
    "reg",
    "release",
    "repeat",
    "rnmos",
    "rpmos",
    "rtran",
    "rtranif0",
    "rtranif1",
    "scalared",
    "showcancelled",
    "signed",
    "small",
    "specify",
    "specparam",
    "strong0",
    "strong1",
    "supply0",
    "supply1",
    "table",
    "task",
    "time",
    "tran",
    "tranif0",
    "tranif1",
    "tri",
    "tri0",
    "tri1",
    "triand",
    "trior",
    "trireg",
    "unsigned",
    "use",
    "uwire",
    "vectored",
    "wait",
    "wand",
    "weak0",
    "weak1",
    "while",
    "wire",
    "wor",
    "xnor",
    "xor",
    "bit",
    "byte",
    "class",
    "interface",
    "package",
    "program",
    "int",
    "shortint",
    "longint",
];

/// A top module name: a simple Verilog identifier (a letter or `_`, then letters, digits or `_`; at most 64
/// characters; no reserved word). `$` is refused so that the name cannot meet rust-hdl's `top$…` submodule names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TopName(String);

impl TopName {
    /// Check `name` (the messages are pinned by tests).
    pub fn new(name: &str) -> Result<Self, HdlError> {
        let mut chars = name.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') || name.len() > 64 {
            return Err(HdlError::new(format!(
                "--top '{name}' is not a Verilog module name (a letter or '_', then letters, digits or '_'; at most 64 \
                 characters)"
            )));
        }
        if KEYWORDS.contains(&name) {
            return Err(HdlError::new(format!("--top '{name}' is a Verilog keyword")));
        }
        Ok(TopName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Verilog file holding the module: `NAME.v`.
    pub fn file(&self) -> String {
        format!("{}.v", self.0)
    }
}

impl Default for TopName {
    /// [`DEFAULT_TOP`].
    fn default() -> Self {
        TopName(DEFAULT_TOP.to_string())
    }
}

impl std::fmt::Display for TopName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for TopName {
    type Err = HdlError;
    fn from_str(s: &str) -> Result<Self, HdlError> {
        TopName::new(s)
    }
}

/// Rename the declaration of rust-hdl's top module (`module top(` at the start of a line, exactly once) to `name`.
/// Nothing else changes: submodules keep their `top$…` names, and no instance refers to the top.
pub fn rename_top(verilog: &str, name: &TopName) -> Result<String, HdlError> {
    const DECL: &str = "module top(";
    let at: Vec<usize> = verilog
        .match_indices(DECL)
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || verilog.as_bytes()[i - 1] == b'\n')
        .collect();
    let [i] = at[..] else {
        return Err(HdlError::new(format!(
            "the emitted Verilog has {} declarations of module `top` (expected exactly one)",
            at.len()
        )));
    };
    Ok(format!("{}module {name}({}", &verilog[..i], &verilog[i + DECL.len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(TopName::default().file(), "pact_accel.v");
        assert_eq!(TopName::new("my_acc").unwrap().as_str(), "my_acc");
        for bad in ["", "1x", "a-b", "a$b", "a b", "ä"] {
            assert_eq!(
                TopName::new(bad).unwrap_err().to_string(),
                format!(
                    "--top '{bad}' is not a Verilog module name (a letter or '_', then letters, digits or '_'; at \
                     most 64 characters)"
                )
            );
        }
        assert_eq!(
            TopName::new("module").unwrap_err().to_string(),
            "--top 'module' is a Verilog keyword"
        );
    }

    #[test]
    fn only_the_top_declaration_is_renamed() {
        let v =
            "// module top( in a comment\nmodule top(a);\n  top$x i(.a(a));\nendmodule\nmodule top$x(a);\nendmodule\n";
        let r = rename_top(v, &TopName::new("acc").unwrap()).unwrap();
        assert_eq!(r, v.replacen("\nmodule top(", "\nmodule acc(", 1));
        assert!(rename_top("module top$x(a);\n", &TopName::default()).is_err());
    }
}
