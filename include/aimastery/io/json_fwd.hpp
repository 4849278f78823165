#pragma once
/// \file
/// The name JsonValue (io/json.hpp) alone, for headers that only mention it: a default template argument,
/// a declaration. A file that makes or reads a JsonValue includes io/json.hpp.

namespace aimastery {

/// A JSON document (io/json.hpp). A class template only so that its members are compiled in the files that
/// use them; the parameter is unused, and JsonValue is the one type.
template <class Unused = void>
class BasicJsonValue;
using JsonValue = BasicJsonValue<>;

}  // namespace aimastery
