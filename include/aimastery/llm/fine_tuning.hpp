#pragma once
/// \file
/// The seed module `llm.fine_tuning`: LoRA (LoRALayer, LinearWithLoRA, apply_lora), Houlsby adapters
/// (AdapterLayer), adapters saved and loaded in PEFT's layout, NF4 quantisation bit-identical to
/// bitsandbytes (quantize_nf4, dequantize_nf4), QLoRA (NF4Linear, apply_qlora), LoRA on a
/// TransformerBlock's projections (TransformerBlockWithLoRA) and on the MiniLM sentence encoder
/// (SentenceEncoderWithLoRA, with its PEFT adapter files).

#include "aimastery/llm/fine_tuning/adapter_layer.hpp"
#include "aimastery/llm/fine_tuning/apply_lora.hpp"
#include "aimastery/llm/fine_tuning/dynamic_map.hpp"
#include "aimastery/llm/fine_tuning/linear_with_lora.hpp"
#include "aimastery/llm/fine_tuning/lora_layer.hpp"
#include "aimastery/llm/fine_tuning/nf4.hpp"
#include "aimastery/llm/fine_tuning/nf4_linear.hpp"
#include "aimastery/llm/fine_tuning/peft_adapter.hpp"
#include "aimastery/llm/fine_tuning/sentence_encoder_adapter.hpp"
#include "aimastery/llm/fine_tuning/sentence_encoder_with_lora.hpp"
#include "aimastery/llm/fine_tuning/transformer_block_with_lora.hpp"
