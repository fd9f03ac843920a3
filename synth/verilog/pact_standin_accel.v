// A stand-in for pact's accelerator, with the same streaming interface, for testing board top-levels:
// takes PIXELS pixels (in_data with in_valid/in_ready), then answers out_class = (sum of the pixels) mod 10 with
// a one-cycle out_valid (and done) 2 cycles after the last pixel; busy from the first pixel to the answer.
// Each pixel's residue mod 10 comes from a 256-entry table read with $readmemh from pact_standin_mod10.hex
// (block RAM), so that the flow's handling of memory files is exercised too. Not a neural network.
// Part of pact-synth; see docs/bitstream.md.
`default_nettype none
module pact_standin_accel #(
    parameter integer PIXELS = 16
) (
    input  wire       clk,
    input  wire       rst,
    input  wire [7:0] in_data,
    input  wire       in_valid,
    output wire       in_ready,
    output reg  [3:0] out_class,
    output reg        out_valid,
    output reg        busy,
    output reg        done
);
    reg [3:0]  mod10 [0:255];
`ifndef PACT_STANDIN_MOD10_HEX
`define PACT_STANDIN_MOD10_HEX "pact_standin_mod10.hex"
`endif
    initial $readmemh(`PACT_STANDIN_MOD10_HEX, mod10);

    reg [15:0] count = 16'd0;
    reg [3:0]  residue = 4'd0;      // stage 1: the pixel's residue (table read)
    reg        have = 1'b0;         // stage 1 holds a pixel
    reg        last = 1'b0;         // ... the image's last one
    reg [3:0]  sum_mod = 4'd0;      // stage 2: running sum mod 10
    wire [4:0] next_sum = {1'b0, sum_mod} + {1'b0, residue};
    wire [3:0] next_mod = (next_sum >= 5'd10) ? next_sum[3:0] - 4'd10 : next_sum[3:0];
    wire       take = in_valid & ~rst;
    assign in_ready = ~rst;
    initial begin
        out_class = 4'd0;
        out_valid = 1'b0;
        busy = 1'b0;
        done = 1'b0;
    end
    always @(posedge clk) begin
        residue <= mod10[in_data];
    end
    always @(posedge clk) begin
        out_valid <= 1'b0;
        done <= 1'b0;
        have <= take;
        last <= take && ({16'd0, count} == PIXELS - 1);
        if (rst) begin
            count <= 16'd0;
            sum_mod <= 4'd0;
            busy <= 1'b0;
            have <= 1'b0;
            last <= 1'b0;
        end else begin
            if (take) begin
                busy <= 1'b1;
                count <= ({16'd0, count} == PIXELS - 1) ? 16'd0 : count + 16'd1;
            end
            if (have) begin
                if (last) begin
                    out_class <= next_mod;
                    out_valid <= 1'b1;
                    done <= 1'b1;
                    busy <= take;
                    sum_mod <= 4'd0;
                end else begin
                    sum_mod <= next_mod;
                end
            end
        end
    end
endmodule
`default_nettype wire
