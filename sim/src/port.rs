//! Ports of a verilated top module: what the caller declares, what Verilator generated, and the C++ types.

use std::fmt;

/// The direction of a top-level port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Driven by the testbench (Rust).
    Input,
    /// Driven by the design.
    Output,
    /// Both (tristate); rare in generated RTL.
    InOut,
}

impl Direction {
    fn tag(self) -> &'static str {
        match self {
            Direction::Input => "in",
            Direction::Output => "out",
            Direction::InOut => "inout",
        }
    }

    fn from_tag(tag: &str) -> Option<Self> {
        match tag {
            "in" => Some(Direction::Input),
            "out" => Some(Direction::Output),
            "inout" => Some(Direction::InOut),
            _ => None,
        }
    }

    /// Whether Rust may drive this port.
    pub fn is_input(self) -> bool {
        matches!(self, Direction::Input | Direction::InOut)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Input => "input",
            Direction::Output => "output",
            Direction::InOut => "inout",
        })
    }
}

/// One top-level port: its Verilog name, direction and width in bits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Port {
    /// The name as written in the Verilog source (`$` and other characters as they are).
    pub name: String,
    /// Input, output or inout.
    pub dir: Direction,
    /// Width in bits, at least 1. Ports wider than 64 bits are handled as arrays of words.
    pub width: u32,
}

impl Port {
    /// An input port of `width` bits.
    pub fn input(name: impl Into<String>, width: u32) -> Self {
        Port {
            name: name.into(),
            dir: Direction::Input,
            width,
        }
    }

    /// An output port of `width` bits.
    pub fn output(name: impl Into<String>, width: u32) -> Self {
        Port {
            name: name.into(),
            dir: Direction::Output,
            width,
        }
    }

    /// Number of 64-bit words that hold a value of this port.
    pub fn words64(&self) -> usize {
        self.width.div_ceil(64) as usize
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}] {}", self.dir, self.width, self.name)
    }
}

/// A port as Verilator generated it: the Verilog view plus the C++ member name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModelPort {
    pub port: Port,
    /// The C++ member name (`$` becomes `__024`, `__` becomes `___05F`, ...).
    pub cxx: String,
}

impl ModelPort {
    /// The C++ storage type Verilator uses for this width.
    pub fn cxx_type(&self) -> CxxType {
        CxxType::for_width(self.port.width)
    }
}

/// Verilator's storage types for ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CxxType {
    /// `CData`, 1..=8 bits.
    C,
    /// `SData`, 9..=16 bits.
    S,
    /// `IData`, 17..=32 bits.
    I,
    /// `QData`, 33..=64 bits.
    Q,
    /// `VlWide<n>` of 32-bit words, more than 64 bits.
    W(u32),
}

impl CxxType {
    pub fn for_width(width: u32) -> Self {
        match width {
            0..=8 => CxxType::C,
            9..=16 => CxxType::S,
            17..=32 => CxxType::I,
            33..=64 => CxxType::Q,
            w => CxxType::W(w.div_ceil(32)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CxxType::C => "CData",
            CxxType::S => "SData",
            CxxType::I => "IData",
            CxxType::Q => "QData",
            CxxType::W(_) => "EData",
        }
    }
}

/// Undo Verilator's name mangling: `__0XX` (two hex digits) stands for the character 0xXX.
pub(crate) fn demangle(cxx: &str) -> String {
    let b = cxx.as_bytes();
    let mut out = String::with_capacity(cxx.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"__0") && i + 5 <= b.len() {
            if let Ok(code) = u8::from_str_radix(&cxx[i + 3..i + 5], 16) {
                out.push(code as char);
                i += 5;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// Parse the port declarations (`VL_IN8(&clk,0,0);`, `VL_OUTW(&y,99,0,4);`, ...) of a Verilator 5 model header.
pub(crate) fn parse_header(header: &str) -> Result<Vec<ModelPort>, String> {
    let mut ports = Vec::new();
    for line in header.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("VL_") else { continue };
        let (dir, rest) = if let Some(r) = rest.strip_prefix("INOUT") {
            (Direction::InOut, r)
        } else if let Some(r) = rest.strip_prefix("IN") {
            (Direction::Input, r)
        } else if let Some(r) = rest.strip_prefix("OUT") {
            (Direction::Output, r)
        } else {
            continue;
        };
        let Some(open) = rest.find("(&") else { continue };
        let kind = &rest[..open];
        if !matches!(kind, "8" | "16" | "" | "64" | "W") {
            continue;
        }
        let args = rest[open + 2..].trim_end_matches(';').trim_end_matches(')');
        let parts: Vec<&str> = args.split(',').map(str::trim).collect();
        if parts.len() < 3 {
            return Err(format!("unexpected port declaration in model header: {line}"));
        }
        let num = |s: &str| {
            s.parse::<i64>()
                .map_err(|_| format!("unexpected port declaration: {line}"))
        };
        let (msb, lsb) = (num(parts[1])?, num(parts[2])?);
        let width = (msb - lsb).unsigned_abs() as u32 + 1;
        let cxx = parts[0].to_string();
        ports.push(ModelPort {
            port: Port {
                name: demangle(&cxx),
                dir,
                width,
            },
            cxx,
        });
    }
    if ports.is_empty() {
        return Err("no ports found in the model header".into());
    }
    Ok(ports)
}

/// The manifest line format of a cache entry: `dir<TAB>width<TAB>cxx<TAB>name`.
pub(crate) fn to_manifest(ports: &[ModelPort]) -> String {
    ports
        .iter()
        .map(|p| format!("{}\t{}\t{}\t{}\n", p.port.dir.tag(), p.port.width, p.cxx, p.port.name))
        .collect()
}

/// Read back [`to_manifest`].
pub(crate) fn from_manifest(text: &str) -> Option<Vec<ModelPort>> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut f = l.splitn(4, '\t');
            let dir = Direction::from_tag(f.next()?)?;
            let width = f.next()?.parse().ok()?;
            let cxx = f.next()?.to_string();
            let name = f.next()?.to_string();
            Some(ModelPort {
                port: Port { name, dir, width },
                cxx,
            })
        })
        .collect()
}

/// Check a declared port list against the generated one: same names, directions and widths (order free).
pub(crate) fn check_declared(top: &str, declared: &[Port], model: &[ModelPort]) -> Result<(), crate::SimError> {
    let mismatch = |detail: String| crate::SimError::PortMismatch {
        top: top.to_string(),
        detail,
    };
    for d in declared {
        match model.iter().find(|m| m.port.name == d.name || m.cxx == d.name) {
            None => {
                let have: Vec<String> = model.iter().map(|m| m.port.to_string()).collect();
                return Err(mismatch(format!(
                    "declared {d} is not a port; the design has: {}",
                    have.join(", ")
                )));
            }
            Some(m) if m.port.dir != d.dir || m.port.width != d.width => {
                return Err(mismatch(format!("declared {d}, but the design has {}", m.port)));
            }
            Some(_) => {}
        }
    }
    if let Some(m) = model
        .iter()
        .find(|m| !declared.iter().any(|d| d.name == m.port.name || d.name == m.cxx))
    {
        return Err(mismatch(format!("the design's {} was not declared", m.port)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_verilator_names() {
        assert_eq!(demangle("a__024b"), "a$b");
        assert_eq!(demangle("a___05Fb"), "a__b");
        assert_eq!(demangle("plain_name"), "plain_name");
        assert_eq!(demangle("x__0"), "x__0");
    }

    #[test]
    fn parses_a_verilator_5_header() {
        let h = "    VL_IN8(&clk,0,0);\n    VL_OUT16(&q,9,0);\n    VL_IN(&d,31,0);\n    VL_IN64(&w__024x,39,0);\n\
                 VL_OUTW(&wide,99,0,4);\n    VL_INOUT8(&io,3,0);\n    VL_OUT8(&n,8,1);\n";
        let p = parse_header(h).unwrap();
        let got: Vec<(String, Direction, u32, CxxType)> = p
            .iter()
            .map(|m| (m.port.name.clone(), m.port.dir, m.port.width, m.cxx_type()))
            .collect();
        use Direction::*;
        assert_eq!(
            got,
            vec![
                ("clk".into(), Input, 1, CxxType::C),
                ("q".into(), Output, 10, CxxType::S),
                ("d".into(), Input, 32, CxxType::I),
                ("w$x".into(), Input, 40, CxxType::Q),
                ("wide".into(), Output, 100, CxxType::W(4)),
                ("io".into(), InOut, 4, CxxType::C),
                ("n".into(), Output, 8, CxxType::C),
            ]
        );
        assert_eq!(p[3].cxx, "w__024x");
        assert_eq!(from_manifest(&to_manifest(&p)).unwrap(), p);
        assert!(parse_header("nothing here").is_err());
    }

    #[test]
    fn declared_ports_are_checked() {
        let model = parse_header("VL_IN8(&clk,0,0);\nVL_OUT16(&q,9,0);\n").unwrap();
        check_declared("t", &[Port::input("clk", 1), Port::output("q", 10)], &model).unwrap();
        let e = check_declared("t", &[Port::input("clk", 1), Port::output("q", 11)], &model).unwrap_err();
        assert_eq!(
            e.to_string(),
            "port list mismatch for top module `t`: declared output [11] q, but the design has output [10] q"
        );
        let e = check_declared("t", &[Port::input("clk", 1)], &model).unwrap_err();
        assert!(
            e.to_string().ends_with("the design's output [10] q was not declared"),
            "{e}"
        );
        let e = check_declared(
            "t",
            &[Port::input("clk", 1), Port::output("q", 10), Port::input("x", 1)],
            &model,
        )
        .unwrap_err();
        assert!(e.to_string().contains("declared input [1] x is not a port"), "{e}");
    }
}
