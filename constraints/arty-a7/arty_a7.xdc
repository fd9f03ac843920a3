## Digilent Arty A7 (XC7A35T / XC7A100T, CSG324) — pins used by pact's board top-level `pact_arty_a7`.
##
## NOT EXERCISED: no open place-and-route flow for Xilinx 7-series can be installed on pact's machines, so this
## file and build.tcl have never been run through Vivado here. Sites are those of Digilent's Arty A7 master XDC
## (digilent-xdc, Arty-A7-35-Master.xdc / Arty-A7-100-Master.xdc); port names are pact's.

## 100 MHz oscillator. The accelerator runs directly on it (no MMCM): timing is checked against 10 ns.
set_property -dict { PACKAGE_PIN E3    IOSTANDARD LVCMOS33 } [get_ports { CLK100MHZ }]; # Sch=gclk[100]
create_clock -add -name sys_clk_pin -period 10.00 -waveform {0 5} [get_ports { CLK100MHZ }];

## Reset: the red RESET button (ck_rst, active low).
set_property -dict { PACKAGE_PIN C2    IOSTANDARD LVCMOS33 } [get_ports { ck_rst }]; # Sch=ck_rst

## FTDI USB-UART. Names are from the FTDI's side: uart_txd_in is the FPGA's input, uart_rxd_out its output.
set_property -dict { PACKAGE_PIN A9    IOSTANDARD LVCMOS33 } [get_ports { uart_txd_in }]; # Sch=uart_txd_in
set_property -dict { PACKAGE_PIN D10   IOSTANDARD LVCMOS33 } [get_ports { uart_rxd_out }]; # Sch=uart_rxd_out

## Four green LEDs (active high).
set_property -dict { PACKAGE_PIN H5    IOSTANDARD LVCMOS33 } [get_ports { led[0] }]; # Sch=led[4]
set_property -dict { PACKAGE_PIN J5    IOSTANDARD LVCMOS33 } [get_ports { led[1] }]; # Sch=led[5]
set_property -dict { PACKAGE_PIN T9    IOSTANDARD LVCMOS33 } [get_ports { led[2] }]; # Sch=led[6]
set_property -dict { PACKAGE_PIN T10   IOSTANDARD LVCMOS33 } [get_ports { led[3] }]; # Sch=led[7]

## The UART and the button are asynchronous to the clock; the top-level synchronizes them.
set_false_path -from [get_ports { uart_txd_in ck_rst }]
set_false_path -to [get_ports { uart_rxd_out led[*] }]

set_property CFGBVS VCCO [current_design]
set_property CONFIG_VOLTAGE 3.3 [current_design]
