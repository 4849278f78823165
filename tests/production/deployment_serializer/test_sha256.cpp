// SHA-256 against the FIPS 180-4 / NIST example vectors and against Python's hashlib on messages of
// seeded random lengths (tests/reference/gen_deployment_sha256.py), fed whole and in random pieces.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "aimastery/production/deployment/sha256.hpp"
#include "support.hpp"

using namespace aimastery;

namespace {

std::vector<std::uint8_t> from_hex(const std::string& hex) {
  std::vector<std::uint8_t> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<std::uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

}  // namespace

TEST_CASE("SHA-256 gives the NIST example digests") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmno"
                   "pqrstnopqrstu") == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  // One million 'a', fed in pieces of 1000 bytes.
  Sha256 h;
  const std::string thousand(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(thousand);
  CHECK(to_hex(h.finish()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // finish() resets: the object hashes a new message afterwards.
  CHECK(to_hex(h.update("abc").finish()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // An empty piece (a null data()) in the middle of a partly filled block changes nothing.
  h.update("ab").update(std::span<const std::uint8_t>{}).update("c");
  CHECK(to_hex(h.finish()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("SHA-256 equals hashlib on random messages, whole and in pieces") {
  const nlohmann::json ref = test::load_reference("deployment_sha256.json");
  std::mt19937_64 rng(test::test_seed());
  REQUIRE(ref["cases"].size() >= 30);
  for (const auto& c : ref["cases"]) {
    const std::vector<std::uint8_t> message = from_hex(c["message"].get<std::string>());
    const std::string expected = c["sha256"].get<std::string>();
    CAPTURE(message.size());
    CHECK(sha256_hex(message) == expected);
    Sha256 pieces;
    std::size_t at = 0;
    while (at < message.size()) {
      const std::size_t n = std::min<std::size_t>(message.size() - at, rng() % 130);
      pieces.update(std::span<const std::uint8_t>(message).subspan(at, n));
      at += n;
    }
    CHECK(to_hex(pieces.finish()) == expected);
  }
}
