//! A self-checking Icarus Verilog testbench for an emitted block: per-cycle input vectors and expected outputs
//! (with a care bit each) in a `$readmemh` file; the testbench drives `top`, compares after every rising edge,
//! prints each mismatch, and ends with `$fatal` (non-zero exit) if there was any.

use pact_hdl::verilog::{run_tool, ScratchDir};
use std::process::Command;

/// A port of the emitted `top` module.
#[derive(Clone, Debug, PartialEq)]
pub struct Port {
    pub name: String,
    pub width: usize,
    pub input: bool,
}

/// The ports of module `top`, read from rust-hdl's declarations (`input wire  [1:0] act;`,
/// `output reg signed [11:0] acc;`).
pub fn top_ports(verilog: &str) -> Vec<Port> {
    let start = verilog.find("module top(").expect("module top");
    let end = start + verilog[start..].find("endmodule").expect("endmodule");
    let mut ports = Vec::new();
    for line in verilog[start..end].lines() {
        let line = line.trim();
        let input = line.starts_with("input wire");
        if !(input || line.starts_with("output reg") || line.starts_with("output wire")) {
            continue;
        }
        let decl = line.trim_end_matches(';');
        let name = decl.split_whitespace().last().unwrap().to_string();
        let width = match (decl.find('['), decl.find(':')) {
            (Some(a), Some(b)) => decl[a + 1..b].parse::<usize>().unwrap() + 1,
            _ => 1,
        };
        ports.push(Port { name, width, input });
    }
    ports
}

/// One cycle: input values (by port name, not `clock`) and expected outputs (`None` = don't care).
#[derive(Clone, Debug, Default)]
pub struct Vector {
    pub inputs: Vec<(String, u128)>,
    pub outputs: Vec<(String, Option<u128>)>,
}

fn mask(w: usize) -> u128 {
    if w >= 128 {
        u128::MAX
    } else {
        (1u128 << w) - 1
    }
}

/// Run `verilog` (containing `top`) under Icarus with these vectors. Returns (cycles, mismatches, log).
pub fn run_icarus(verilog: &str, vectors: &[Vector]) -> (usize, usize, String) {
    let ports = top_ports(verilog);
    let ins: Vec<&Port> = ports.iter().filter(|p| p.input && p.name != "clock").collect();
    let outs: Vec<&Port> = ports.iter().filter(|p| !p.input).collect();
    // Word layout, LSB first: inputs, then per output its value and a care bit.
    let mut fields: Vec<(String, usize, usize)> = Vec::new(); // (name, offset, width)
    let mut off = 0;
    for p in &ins {
        fields.push((format!("in:{}", p.name), off, p.width));
        off += p.width;
    }
    for p in &outs {
        fields.push((format!("out:{}", p.name), off, p.width));
        off += p.width;
        fields.push((format!("care:{}", p.name), off, 1));
        off += 1;
    }
    let total = off;
    let digits = total.div_ceil(4);
    let mut hex = String::new();
    for v in vectors {
        let mut bits = vec![false; digits * 4];
        let mut put = |offset: usize, width: usize, value: u128| {
            for b in 0..width {
                bits[offset + b] = b < 128 && (value >> b) & 1 == 1;
            }
        };
        for (name, value) in &v.inputs {
            let (_, o, w) = fields.iter().find(|f| f.0 == format!("in:{name}")).expect("input port");
            put(*o, *w, value & mask(*w));
        }
        for (name, value) in &v.outputs {
            let (_, o, w) = fields
                .iter()
                .find(|f| f.0 == format!("out:{name}"))
                .expect("output port");
            if let Some(x) = value {
                put(*o, *w, x & mask(*w));
                let (_, co, _) = fields.iter().find(|f| f.0 == format!("care:{name}")).unwrap();
                put(*co, 1, 1);
            }
        }
        for d in (0..digits).rev() {
            let nib = (0..4).fold(0u8, |acc, b| acc | (u8::from(bits[d * 4 + b]) << b));
            hex.push(char::from_digit(nib as u32, 16).unwrap());
        }
        hex.push('\n');
    }

    let mut tb = String::from("`timescale 1ns/1ps\nmodule tb;\n    reg clock = 0;\n");
    for p in &ins {
        tb.push_str(&format!("    reg [{}:0] \\i_{} ;\n", p.width - 1, p.name));
    }
    for p in &outs {
        tb.push_str(&format!("    wire [{}:0] \\o_{} ;\n", p.width - 1, p.name));
    }
    let conns: Vec<String> = ports
        .iter()
        .map(|p| match (p.name.as_str(), p.input) {
            ("clock", _) => ".clock(clock)".to_string(),
            (n, true) => format!(".{n}(\\i_{n} )"),
            (n, false) => format!(".{n}(\\o_{n} )"),
        })
        .collect();
    tb.push_str(&format!("    top dut({});\n", conns.join(", ")));
    tb.push_str(&format!(
        "    reg [{}:0] mem [0:{}];\n    reg [{}:0] v;\n    integer t, errors;\n",
        digits * 4 - 1,
        vectors.len() - 1,
        digits * 4 - 1
    ));
    tb.push_str("    initial begin\n        errors = 0;\n        $readmemh(\"vectors.hex\", mem);\n");
    tb.push_str(&format!(
        "        for (t = 0; t < {}; t = t + 1) begin\n            v = mem[t];\n",
        vectors.len()
    ));
    for (name, o, w) in &fields {
        if let Some(n) = name.strip_prefix("in:") {
            tb.push_str(&format!("            \\i_{n} = v[{}:{}];\n", o + w - 1, o));
        }
    }
    tb.push_str("            #5 clock = 1;\n            #4;\n");
    for p in &outs {
        let (_, o, w) = fields.iter().find(|f| f.0 == format!("out:{}", p.name)).unwrap();
        let (_, co, _) = fields.iter().find(|f| f.0 == format!("care:{}", p.name)).unwrap();
        tb.push_str(&format!(
            "            if (v[{co}] && \\o_{n}  !== v[{}:{}]) begin\n                errors = errors + 1;\n                \
             $display(\"MISMATCH cycle %0d {n}: got %h expected %h\", t, \\o_{n} , v[{}:{}]);\n            end\n",
            o + w - 1,
            o,
            o + w - 1,
            o,
            n = p.name
        ));
    }
    tb.push_str("            #1 clock = 0;\n        end\n");
    tb.push_str(&format!(
        "        $display(\"CYCLES {} MISMATCHES %0d\", errors);\n",
        vectors.len()
    ));
    tb.push_str(
        "        if (errors != 0) $fatal(1, \"%0d mismatches\", errors);\n        $finish;\n    end\nendmodule\n",
    );

    let dir = ScratchDir::new("icarus").unwrap();
    dir.write("top.v", verilog).unwrap();
    dir.write("tb.v", &tb).unwrap();
    dir.write("vectors.hex", &hex).unwrap();
    let out = run_tool(
        Command::new("iverilog")
            .current_dir(dir.path())
            .args(["-g2012", "-o", "sim.vvp", "tb.v", "top.v"]),
        "iverilog",
    )
    .unwrap();
    assert!(
        out.status.success(),
        "iverilog failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_tool(
        Command::new("vvp").current_dir(dir.path()).args(["-n", "sim.vvp"]),
        "iverilog",
    )
    .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = log
        .lines()
        .find(|l| l.starts_with("CYCLES "))
        .unwrap_or_else(|| panic!("no summary:\n{log}"));
    let mismatches: usize = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_eq!(
        out.status.success(),
        mismatches == 0,
        "vvp exit status must reflect mismatches:\n{log}"
    );
    (vectors.len(), mismatches, log)
}
