// A stand-in for pact's accelerator, with the same streaming interface, for testing board top-levels:
// takes PIXELS pixels (in_data with in_valid/in_ready), answers out_class = (sum of the pixels) mod 10 with a
// one-cycle out_valid (and done) LATENCY cycles after the last pixel; busy from the first pixel to the answer.
// Not a neural network. Part of pact-synth; see docs/bitstream.md.
`default_nettype none
module pact_standin_accel #(
    parameter integer PIXELS = 16,
    parameter integer LATENCY = 8
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
    reg [15:0] count = 16'd0;
    reg [15:0] wait_count = 16'd0;
    reg [3:0]  sum_mod = 4'd0;
    reg        computing = 1'b0;
    wire [4:0] next_sum = {1'b0, sum_mod} + {1'b0, in_data % 8'd10};
    assign in_ready = ~computing & ~rst;
    initial begin
        out_class = 4'd0;
        out_valid = 1'b0;
        busy = 1'b0;
        done = 1'b0;
    end
    always @(posedge clk) begin
        out_valid <= 1'b0;
        done <= 1'b0;
        if (rst) begin
            count <= 16'd0;
            sum_mod <= 4'd0;
            computing <= 1'b0;
            busy <= 1'b0;
        end else if (computing) begin
            if (wait_count == 16'd0) begin
                computing <= 1'b0;
                busy <= 1'b0;
                out_class <= sum_mod;
                out_valid <= 1'b1;
                done <= 1'b1;
                sum_mod <= 4'd0;
            end else begin
                wait_count <= wait_count - 16'd1;
            end
        end else if (in_valid) begin
            busy <= 1'b1;
            sum_mod <= (next_sum >= 5'd10) ? next_sum[3:0] - 4'd10 : next_sum[3:0];
            if (count == PIXELS - 1) begin
                count <= 16'd0;
                computing <= 1'b1;
                wait_count <= LATENCY - 1;
            end else begin
                count <= count + 16'd1;
            end
        end
    end
endmodule
`default_nettype wire
