#pragma once
/// \file
/// The seed module `llm.attention`: scaled dot-product attention (plain and tiled/online-softmax),
/// multi-head attention, layer normalisation, the feed-forward network, the transformer encoder block
/// and positional encodings.

#include "aimastery/llm/attention/attention_mask.hpp"
#include "aimastery/llm/attention/feed_forward_network.hpp"
#include "aimastery/llm/attention/layer_norm.hpp"
#include "aimastery/llm/attention/multi_head_attention.hpp"
#include "aimastery/llm/attention/positional_encoding.hpp"
#include "aimastery/llm/attention/scaled_dot_product_attention.hpp"
#include "aimastery/llm/attention/transformer_block.hpp"
