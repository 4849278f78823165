#pragma once
/// \file
/// The seed module `llm.fine_tuning`. Written so far: NF4 quantisation (quantize_nf4, dequantize_nf4),
/// bit-identical to bitsandbytes, with double quantisation of the block scales.

#include "aimastery/llm/fine_tuning/dynamic_map.hpp"
#include "aimastery/llm/fine_tuning/nf4.hpp"
