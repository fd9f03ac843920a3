//! The safe simulation API: a loaded [`Model`] and its running instances, [`Sim`].

use std::path::Path;
use std::sync::Arc;

use crate::builder::BuildInfo;
use crate::error::{Result, SimError};
use crate::ffi::{Instance, Library};
use crate::port::{ModelPort, Port};

/// A port handle, looked up by name once with [`Sim::port`] and then used every cycle without string lookups.
///
/// A handle belongs to the model it was looked up in; using it with another model is a logic error (a panic when
/// the index is out of range there, or the wrong port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortId(u32);

impl PortId {
    /// The port's position in [`Model::ports`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What the hot path needs to know about a port, precomputed.
#[derive(Debug, Clone)]
struct PortInfo {
    port: Port,
    mask: u64,
    input: bool,
    wide: bool,
}

/// A verilated design loaded into this process. Cheap to clone; create any number of [`Sim`] instances from it.
#[derive(Debug, Clone)]
pub struct Model {
    lib: Arc<Library>,
    top: Arc<str>,
    ports: Arc<[PortInfo]>,
    clock: Option<u32>,
    trace: bool,
    info: BuildInfo,
}

impl Model {
    pub(crate) fn new(
        lib: Arc<Library>,
        top: String,
        ports: Vec<ModelPort>,
        clock: Option<u32>,
        trace: bool,
        info: BuildInfo,
    ) -> Model {
        let ports = ports
            .into_iter()
            .map(|mp| {
                let w = mp.port.width;
                PortInfo {
                    mask: if w >= 64 { u64::MAX } else { (1u64 << w) - 1 },
                    input: mp.port.dir.is_input(),
                    wide: w > 64,
                    port: mp.port,
                }
            })
            .collect();
        Model {
            lib,
            top: top.into(),
            ports,
            clock,
            trace,
            info,
        }
    }

    /// The top module's name.
    pub fn top(&self) -> &str {
        &self.top
    }

    /// The top module's ports, in Verilator's order; [`PortId::index`] indexes this.
    pub fn ports(&self) -> Vec<Port> {
        self.ports.iter().map(|p| p.port.clone()).collect()
    }

    /// How this model was built (cache hit or not, and the time each step took).
    pub fn build_info(&self) -> &BuildInfo {
        &self.info
    }

    /// The shared library this model was loaded from.
    pub fn library_path(&self) -> &Path {
        self.lib.path()
    }

    /// Look a port up by its Verilog name (or Verilator's C++ name, e.g. `a__024b` for `a$b`).
    pub fn port(&self, name: &str) -> Result<PortId> {
        let demangled = crate::port::demangle(name);
        self.ports
            .iter()
            .position(|p| p.port.name == name || p.port.name == demangled)
            .map(|i| PortId(i as u32))
            .ok_or_else(|| {
                let names: Vec<&str> = self.ports.iter().map(|p| p.port.name.as_str()).collect();
                SimError::Port(format!(
                    "`{}` has no port `{name}`; its ports are: {}",
                    self.top,
                    names.join(", ")
                ))
            })
    }

    /// Whether the model was built with tracing (so [`Sim::trace`] works).
    pub fn has_trace(&self) -> bool {
        self.trace
    }

    /// A new instance with all inputs 0, evaluated once (initial blocks have run).
    pub fn sim(&self) -> Result<Sim> {
        let mut inst = Instance::new(self.lib.clone())?;
        if let Some(c) = self.clock {
            if !inst.set_clock(c) {
                return Err(SimError::Port(format!("clock port index {c} is not a 1-bit input")));
            }
        }
        inst.eval()?;
        Ok(Sim {
            inst,
            model: self.clone(),
            cycles: 0,
            has_clock: self.clock.is_some(),
        })
    }
}

/// One running instance of a [`Model`].
///
/// Inputs are set with [`set`](Self::set) (and the signed and wide variants), combinational logic settles with
/// [`eval`](Self::eval), one clock cycle is [`tick`](Self::tick): the clock goes low (new inputs settle), then
/// high (the posedge). Outputs read after `tick` show the state after the posedge.
///
/// Setting a value that does not fit the port's width, or using an output as an input, is a programming error
/// and panics with the port's name; nothing is ever truncated silently.
#[derive(Debug)]
pub struct Sim {
    inst: Instance,
    model: Model,
    cycles: u64,
    has_clock: bool,
}

impl Sim {
    /// The model this instance runs.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Look a port up by its Verilog name (or Verilator's C++ name, e.g. `a__024b` for `a$b`).
    pub fn port(&self, name: &str) -> Result<PortId> {
        self.model.port(name)
    }

    /// The port behind a handle.
    pub fn port_info(&self, id: PortId) -> &Port {
        &self.model.ports[id.index()].port
    }

    #[inline]
    fn input(&self, id: PortId, narrow: bool) -> &PortInfo {
        let p = &self.model.ports[id.index()];
        assert!(p.input, "{} is not an input of `{}`", p.port, self.model.top);
        assert!(
            !narrow || !p.wide,
            "{} is wider than 64 bits: use set_wide or set_u128",
            p.port
        );
        p
    }

    /// Set an input of at most 64 bits. Panics if `value` does not fit the port's width.
    #[inline]
    pub fn set(&mut self, id: PortId, value: u64) {
        let p = self.input(id, true);
        assert!(value & !p.mask == 0, "value {value:#x} does not fit {}", p.port);
        self.inst.set64(id.0, value);
    }

    /// Set an input of at most 64 bits from a signed value (two's complement). Panics if `value` is outside
    /// `-2^(w-1) ..= 2^(w-1) - 1`.
    #[inline]
    pub fn set_i64(&mut self, id: PortId, value: i64) {
        let p = self.input(id, true);
        let w = p.port.width;
        let fits = w >= 64 || (value >= -(1i64 << (w - 1)) && value < (1i64 << (w - 1)));
        assert!(fits, "value {value} does not fit signed {}", p.port);
        let bits = value as u64 & p.mask;
        self.inst.set64(id.0, bits);
    }

    /// Read a port of at most 64 bits (outputs, and inputs read back).
    #[inline]
    pub fn get(&self, id: PortId) -> u64 {
        let p = &self.model.ports[id.index()];
        assert!(!p.wide, "{} is wider than 64 bits: use get_wide or get_u128", p.port);
        self.inst.get64(id.0) & p.mask
    }

    /// Read a port of at most 64 bits as a signed (two's complement) value.
    #[inline]
    pub fn get_i64(&self, id: PortId) -> i64 {
        let w = self.model.ports[id.index()].port.width;
        let v = self.get(id);
        if w >= 64 {
            v as i64
        } else {
            ((v << (64 - w)) as i64) >> (64 - w)
        }
    }

    /// Set an input of any width from little-endian 64-bit words (`words[0]` holds bits 63..0). The number of
    /// words must be `ceil(width / 64)` and bits above the width must be 0; panics otherwise.
    pub fn set_wide(&mut self, id: PortId, words: &[u64]) {
        let p = self.input(id, false);
        let n = p.port.words64();
        assert_eq!(words.len(), n, "{} takes {n} 64-bit words", p.port);
        let top_bits = p.port.width - 64 * (n as u32 - 1);
        let top_mask = if top_bits >= 64 {
            u64::MAX
        } else {
            (1u64 << top_bits) - 1
        };
        assert!(words[n - 1] & !top_mask == 0, "value does not fit {}", p.port);
        self.inst.set_wide(id.0, words);
    }

    /// Read a port of any width as little-endian 64-bit words (`ceil(width / 64)` of them).
    pub fn get_wide(&self, id: PortId) -> Vec<u64> {
        let mut out = vec![0; self.model.ports[id.index()].port.words64()];
        self.get_wide_into(id, &mut out);
        out
    }

    /// Read a port of any width into `out`, which must hold `ceil(width / 64)` words.
    pub fn get_wide_into(&self, id: PortId, out: &mut [u64]) {
        let p = &self.model.ports[id.index()];
        assert_eq!(
            out.len(),
            p.port.words64(),
            "{} is {} 64-bit words",
            p.port,
            p.port.words64()
        );
        self.inst.get_wide(id.0, out);
    }

    /// Set an input of at most 128 bits. Panics if `value` does not fit.
    pub fn set_u128(&mut self, id: PortId, value: u128) {
        let n = self.model.ports[id.index()].port.words64();
        assert!(
            n <= 2,
            "{} is wider than 128 bits: use set_wide",
            self.model.ports[id.index()].port
        );
        let words = [value as u64, (value >> 64) as u64];
        if n == 2 {
            self.set_wide(id, &words);
        } else {
            assert!(
                words[1] == 0,
                "value {value:#x} does not fit {}",
                self.model.ports[id.index()].port
            );
            self.set(id, words[0]);
        }
    }

    /// Read a port of at most 128 bits.
    pub fn get_u128(&self, id: PortId) -> u128 {
        let p = &self.model.ports[id.index()].port;
        assert!(p.words64() <= 2, "{p} is wider than 128 bits: use get_wide");
        let mut w = [0u64; 2];
        self.get_wide_into(id, &mut w[..p.words64()]);
        u128::from(w[0]) | (u128::from(w[1]) << 64)
    }

    /// Settle combinational logic after inputs changed (no clock edge).
    #[inline]
    pub fn eval(&mut self) -> Result<()> {
        self.inst.eval()
    }

    /// One clock cycle: clock low and eval (inputs settle), clock high and eval (the posedge). Errors if the
    /// design stops (`$stop`, `$fatal`, a failing `$error`) or if the model has no clock.
    #[inline]
    pub fn tick(&mut self) -> Result<()> {
        self.run(1)
    }

    /// `n` clock cycles with the inputs left as they are (one call into the library).
    pub fn run(&mut self, n: u64) -> Result<()> {
        if !self.has_clock {
            return Err(SimError::Port(format!(
                "`{}` has no clock: name a 1-bit input with SimBuilder::clock or Sim::set_clock",
                self.model.top
            )));
        }
        let r = self.inst.tick(n);
        if r.is_ok() {
            self.cycles += n;
        }
        r
    }

    /// Choose the 1-bit input that [`tick`](Self::tick) toggles.
    pub fn set_clock(&mut self, id: PortId) -> Result<()> {
        if !self.inst.set_clock(id.0) {
            return Err(SimError::Port(format!(
                "{} cannot be the clock: it must be a 1-bit input",
                self.port_info(id)
            )));
        }
        self.has_clock = true;
        Ok(())
    }

    /// Clock cycles run by [`tick`](Self::tick) and [`run`](Self::run) so far.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// Simulation time in trace units (10 per cycle: clock low at 10k, posedge at 10k + 5).
    pub fn time(&self) -> u64 {
        self.inst.time()
    }

    /// Whether the design executed `$finish` (or stopped).
    pub fn finished(&self) -> bool {
        self.inst.finished()
    }

    /// Start writing a VCD trace to `path` (the model must be built with [`SimBuilder::trace`](crate::SimBuilder)).
    /// A trace already open is closed first. Each cycle dumps at its clock-low and posedge times.
    pub fn trace(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.inst.trace_open(path.as_ref()).map_err(SimError::Trace)
    }

    /// Flush the open trace to disk.
    pub fn trace_flush(&mut self) {
        self.inst.trace_flush();
    }

    /// Close the open trace (also done on drop).
    pub fn trace_close(&mut self) {
        self.inst.trace_close();
    }
}
