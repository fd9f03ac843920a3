//! The name of the generated top module and its files: rust-hdl always names its top `top`; the emit step renames
//! that one module (its declaration and its `endmodule // top` trailer) to a [`TopName`] (`pact_accel` by default,
//! `pact gen --top NAME`), written alone into `NAME.v`, so the file and its module match (Verilator's
//! DECLFILENAME). rust-hdl's submodules (`top$…`, one per instance) go into the library file `NAME_modules.v`
//! (read with `verilator -v`, which exempts library files from DECLFILENAME; yosys and Icarus read it like any
//! other file).
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

    /// The Verilog library file holding its submodules: `NAME_modules.v`.
    pub fn modules_file(&self) -> String {
        format!("{}_modules.v", self.0)
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

/// The start of every line of `text` that begins with `what`.
fn line_starts(text: &str, what: &str) -> Vec<usize> {
    text.match_indices(what)
        .map(|(i, _)| i)
        .filter(|&i| i == 0 || text.as_bytes()[i - 1] == b'\n')
        .collect()
}

/// Rename rust-hdl's top module to `name` and cut the text after it: returns (the top module, up to and including
/// its `endmodule // NAME` line; the submodules after it). The declaration `module top(` and the trailer
/// `endmodule // top` must each start a line exactly once, the declaration first. Nothing else changes: submodules
/// keep their `top$…` names, and no instance refers to the top.
pub fn rename_top(verilog: &str, name: &TopName) -> Result<(String, String), HdlError> {
    const DECL: &str = "module top(";
    const END: &str = "endmodule // top\n";
    let (decl, end) = (line_starts(verilog, DECL), line_starts(verilog, END));
    let ([d], [e]) = (&decl[..], &end[..]) else {
        return Err(HdlError::new(format!(
            "the emitted Verilog has {} declarations and {} ends of module `top` (expected one each)",
            decl.len(),
            end.len()
        )));
    };
    let (d, e) = (*d, *e);
    if e < d {
        return Err(HdlError::new(
            "the emitted Verilog ends module `top` before declaring it".to_string(),
        ));
    }
    let top = format!(
        "{}module {name}({}endmodule // {name}\n",
        &verilog[..d],
        &verilog[d + DECL.len()..e]
    );
    Ok((top, verilog[e + END.len()..].to_string()))
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
    fn only_the_top_module_is_renamed_and_cut_off() {
        let v =
            "// module top( in a comment\nmodule top(a);\n  top$x i(.a(a));\nendmodule // top\n\nmodule top$x(a);\n\
                 endmodule // top$x\n";
        let (top, rest) = rename_top(v, &TopName::new("acc").unwrap()).unwrap();
        assert_eq!(
            top,
            "// module top( in a comment\nmodule acc(a);\n  top$x i(.a(a));\nendmodule // acc\n"
        );
        assert_eq!(rest, "\nmodule top$x(a);\nendmodule // top$x\n");
        assert!(rename_top("module top$x(a);\nendmodule // top$x\n", &TopName::default()).is_err());
        assert!(rename_top("endmodule // top\nmodule top(a);\n", &TopName::default()).is_err());
    }
}
