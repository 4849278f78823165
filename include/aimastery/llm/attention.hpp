#pragma once
/// \file
/// The seed module `llm.attention`: scaled dot-product attention (plain and tiled/online-softmax),
/// multi-head attention, layer normalisation, the feed-forward network, the transformer encoder block,
/// positional encodings, packed (unpadded) inference, the WordPiece tokenizer and the pretrained
/// all-MiniLM-L6-v2 SentenceEncoder.

#include "aimastery/llm/attention/attention_mask.hpp"
#include "aimastery/llm/attention/feed_forward_network.hpp"
#include "aimastery/llm/attention/layer_norm.hpp"
#include "aimastery/llm/attention/multi_head_attention.hpp"
#include "aimastery/llm/attention/packed_sequences.hpp"
#include "aimastery/llm/attention/positional_encoding.hpp"
#include "aimastery/llm/attention/scaled_dot_product_attention.hpp"
#include "aimastery/llm/attention/sentence_encoder.hpp"
#include "aimastery/llm/attention/transformer_block.hpp"
#include "aimastery/llm/attention/wordpiece_tokenizer.hpp"
