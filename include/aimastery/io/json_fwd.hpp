#pragma once
/// \file
/// The name JsonValue (io/json.hpp) alone, for headers that only mention it: a default template argument,
/// a declaration. A file that makes or reads a JsonValue includes io/json.hpp.

namespace aimastery {

class JsonValue;

}  // namespace aimastery
