#pragma once
/// \file
/// The safetensors format (https://github.com/huggingface/safetensors): reading, writing and the
/// tensors in memory. This umbrella includes the three parts; code that needs only some includes them
/// alone, so that the JSON parser is compiled only where files are read or written:
///
///   safetensors_tensor.hpp   Safetensors, SafetensorsTensor, SafetensorsDtype (no JSON)
///   safetensors_read.hpp     read_safetensors, parse_safetensors
///   safetensors_write.hpp    write_safetensors, serialize_safetensors
///
///   Safetensors file;
///   file.add("0.weight", W);                     // a Matrix<float> is stored as F32, Matrix<double> as F64
///   file.metadata["format"] = "pt";
///   write_safetensors("model.safetensors", file);
///   auto back = read_safetensors("model.safetensors");
///   Matrix<double> W2 = back.matrix<double>("0.weight");   // any floating dtype converts to T

#include "aimastery/io/safetensors_read.hpp"
#include "aimastery/io/safetensors_tensor.hpp"
#include "aimastery/io/safetensors_write.hpp"
