# Vivado batch build of pact's Arty A7 top-level:
#
#   vivado -mode batch -source build.tcl -tclargs SRC_DIR OUT_DIR [PART]
#
# SRC_DIR holds the accelerator's Verilog and $readmemh files plus pact_arty_a7.v (the board top-level written
# by `pact_synth::board::write_board_sources` for the Arty A7); PART defaults to xc7a35ticsg324-1L (Arty A7-35T;
# use xc7a100tcsg324-1 for the A7-100T).
#
# NOT EXERCISED: no open 7-series flow is installable on pact's machines and Vivado is not available there, so
# this script has never been run by pact's tests. It is kept so that a Vivado user can try the same design.

if { $argc < 2 } {
    puts "usage: vivado -mode batch -source build.tcl -tclargs SRC_DIR OUT_DIR \[PART\]"
    exit 1
}
set src_dir [lindex $argv 0]
set out_dir [lindex $argv 1]
set part    [expr { $argc > 2 ? [lindex $argv 2] : "xc7a35ticsg324-1L" }]
set here    [file dirname [file normalize [info script]]]
file mkdir $out_dir

# Memory initialisation files are looked up relative to the working directory.
cd $src_dir
read_verilog [glob -directory $src_dir *.v]
read_xdc [file join $here arty_a7.xdc]

synth_design -top pact_arty_a7 -part $part
opt_design
place_design
phys_opt_design
route_design

report_utilization    -file [file join $out_dir utilization.txt]
report_timing_summary -file [file join $out_dir timing.txt]
write_bitstream -force [file join $out_dir pact_arty_a7.bit]
