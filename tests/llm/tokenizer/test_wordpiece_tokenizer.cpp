// WordPieceTokenizer against Hugging Face `tokenizers` (tests/reference/gen_llm_tokenizer.py): the ids, the
// word pieces and the pre-tokenised words of 349 texts (accents, CJK, emoji, punctuation runs, controls,
// special tokens in the text, very long words, empty strings, 300 seeded random strings over many scripts),
// and a padded batch. The vocabulary is the committed copy of all-MiniLM-L6-v2's vocab.txt.
#include <aimastery/llm/attention/wordpiece_tokenizer.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "support.hpp"

using namespace aimastery;

namespace {

std::string vocab_path() { return std::string(AIMASTERY_REFERENCE_DIR) + "/llm_minilm_vocab.txt"; }

const WordPieceTokenizer& minilm_tokenizer() {
  static const WordPieceTokenizer tok = WordPieceTokenizer::from_file(vocab_path());
  return tok;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

/// A scratch file removed at the end of the scope.
struct TempFile {
  std::string path;
  explicit TempFile(const std::string& name, const std::string& contents)
      : path((std::filesystem::temp_directory_path() / name).string()) {
    std::ofstream(path, std::ios::binary) << contents;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

}  // namespace

TEST_CASE("WordPieceTokenizer: ids, pieces and words equal Hugging Face tokenizers") {
  const auto ref = test::load_reference("llm_tokenizer.json");
  const WordPieceTokenizer& tok = minilm_tokenizer();
  CHECK(tok.vocab_size() == 30522);
  CHECK(tok.options().max_length == ref["max_length"].get<Index>());
  std::size_t checked = 0;
  for (const auto& c : ref["cases"]) {
    const auto text = c["text"].get<std::string>();
    CAPTURE(text);
    CHECK(tok.encode(text) == c["ids"].get<std::vector<std::int32_t>>());
    CHECK(tok.tokenize(text) == c["pieces"].get<std::vector<std::string>>());
    if (!c["words"].is_null()) CHECK(tok.normalize(text) == join(c["words"].get<std::vector<std::string>>()));
    ++checked;
  }
  CHECK(checked >= 300);
}

TEST_CASE("WordPieceTokenizer: a padded batch with its attention mask equals Hugging Face tokenizers") {
  const auto ref = test::load_reference("llm_tokenizer.json")["batch"];
  const auto texts = ref["texts"].get<std::vector<std::string>>();
  const TokenBatch batch = minilm_tokenizer().encode_batch(texts);
  const auto ids = ref["input_ids"].get<std::vector<std::vector<std::int32_t>>>();
  const auto mask = ref["attention_mask"].get<std::vector<std::vector<std::int32_t>>>();
  REQUIRE(batch.input_ids.rows() == static_cast<Index>(ids.size()));
  REQUIRE(batch.input_ids.cols() == static_cast<Index>(ids[0].size()));
  for (Index i = 0; i < batch.input_ids.rows(); ++i) {
    Index real = 0;
    for (Index j = 0; j < batch.input_ids.cols(); ++j) {
      CHECK(batch.input_ids(i, j) == ids[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)]);
      CHECK(batch.attention_mask(i, j) == mask[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)]);
      real += batch.attention_mask(i, j);
    }
    CHECK(batch.lengths[static_cast<std::size_t>(i)] == real);
  }
}

TEST_CASE("WordPieceTokenizer: the algorithm's steps on small examples") {
  const WordPieceTokenizer& tok = minilm_tokenizer();
  CHECK(tok.normalize("Héllo,WORLD!!  中文") == "hello , world ! ! 中 文");
  CHECK(tok.tokenize("unaffable") == std::vector<std::string>{"una", "##ffa", "##ble"});
  CHECK(tok.encode("") == std::vector<std::int32_t>{tok.cls_id(), tok.sep_id()});
  CHECK(tok.tokenize(std::string(101, 'a')) == std::vector<std::string>{"[UNK]"});
  CHECK(tok.token_to_id("[PAD]") == tok.pad_id());
  CHECK(tok.id_to_token(tok.cls_id()) == "[CLS]");
  CHECK_FALSE(tok.token_to_id("no such token").has_value());
  // Truncation keeps [CLS] and [SEP] and cuts the pieces.
  std::string words;
  for (int i = 0; i < 400; ++i) words += "word ";
  const auto ids = tok.encode(words);
  CHECK(ids.size() == 256);
  CHECK(ids.front() == tok.cls_id());
  CHECK(ids.back() == tok.sep_id());
  // A shorter max_length.
  const WordPieceTokenizer short_tok = WordPieceTokenizer::from_file(vocab_path(), {.max_length = 4});
  CHECK(short_tok.encode("one two three four") ==
        std::vector<std::int32_t>{tok.cls_id(), *tok.token_to_id("one"), *tok.token_to_id("two"), tok.sep_id()});
}

TEST_CASE("WordPieceTokenizer: invalid UTF-8 bytes are dropped like U+FFFD, never read past the end") {
  const WordPieceTokenizer& tok = minilm_tokenizer();
  CHECK(tok.tokenize("ab\xff\xfe"
                     "cd") == tok.tokenize("abcd"));
  CHECK(tok.tokenize("x\xc3") == tok.tokenize("x"));      // truncated 2-byte sequence
  CHECK(tok.tokenize("x\xe2\x82") == tok.tokenize("x"));  // truncated 3-byte sequence
  CHECK(tok.tokenize("\xc0\xaf"
                     "y") == tok.tokenize("y"));  // overlong '/'
  CHECK(tok.tokenize("\xed\xa0\x80"
                     "z") == tok.tokenize("z"));  // a surrogate
  CHECK(tok.tokenize("\xf4\x90\x80\x80"
                     "w") == tok.tokenize("w"));  // beyond U+10FFFF
}

TEST_CASE("WordPieceTokenizer: bad vocabularies and arguments") {
  CHECK_THROWS_NAMING(WordPieceTokenizer::from_file("/nonexistent/vocab.txt"), FormatError, "/nonexistent/vocab.txt");
  {
    const TempFile empty("aimastery_empty_vocab.txt", "");
    CHECK_THROWS_NAMING(WordPieceTokenizer::from_file(empty.path), FormatError, "holds no tokens");
  }
  {
    // The first 50 lines of the real vocabulary: [PAD] and unused slots, no [UNK] (line 101).
    std::ifstream in(vocab_path());
    std::string line, head;
    for (int i = 0; i < 50 && std::getline(in, line); ++i) head += line + "\n";
    const TempFile truncated("aimastery_truncated_vocab.txt", head);
    CHECK_THROWS_NAMING(WordPieceTokenizer::from_file(truncated.path), FormatError, "[UNK]");
  }
  CHECK_THROWS_NAMING(WordPieceTokenizer(std::vector<std::string>{}), InvalidArgument, "vocabulary is empty");
  const std::vector<std::string> tiny = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "##b"};
  CHECK_THROWS_NAMING(WordPieceTokenizer(tiny, {.max_length = 1}), InvalidArgument, "max_length");
  CHECK_THROWS_NAMING(WordPieceTokenizer(tiny, {.max_input_chars_per_word = 0}), InvalidArgument,
                      "max_input_chars_per_word");
  const WordPieceTokenizer tok(tiny);
  CHECK(tok.tokenize("ab abb c") == std::vector<std::string>{"a", "##b", "a", "##b", "##b", "[UNK]"});
  CHECK_THROWS_NAMING(tok.id_to_token(6), InvalidArgument, "id 6 outside");
  CHECK_THROWS_NAMING(tok.id_to_token(-1), InvalidArgument, "id -1 outside");
}

namespace {

/// 2^stages distinct keys whose plain FNV-1a 64 hashes (the tables' hash before it was seeded and mixed)
/// agree in their low 16 bits: FNV-1a's low k bits depend only on the low k bits of its state, so one pair
/// of 3-letter blocks that collide there from a common state can be followed by another (Joux's
/// multicollision), and any choice of one block per stage collides.
std::vector<std::string> fnv_low_bit_multicollision(int stages) {
  constexpr std::uint64_t prime = 0x100000001b3ull, low = (std::uint64_t(1) << 16) - 1;
  const auto step = [&](std::uint64_t h, const std::string& block) {
    for (const char c : block) h = (h ^ static_cast<unsigned char>(c)) * prime;
    return h;
  };
  std::uint64_t state = 0xcbf29ce484222325ull;
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int s = 0; s < stages; ++s) {
    std::map<std::uint64_t, std::string> seen;
    for (int x = 0;; ++x) {
      const std::string block = {char('a' + x % 26), char('a' + x / 26 % 26), char('a' + x / 676 % 26)};
      const auto [it, inserted] = seen.emplace(step(state, block) & low, block);
      if (!inserted) {
        pairs.emplace_back(it->second, block);
        break;
      }
    }
    state = step(state, pairs.back().first);
  }
  std::vector<std::string> keys;
  for (std::uint64_t choice = 0; choice < (std::uint64_t(1) << stages); ++choice) {
    std::string key;
    for (int s = 0; s < stages; ++s) key += (choice >> s & 1) != 0 ? pairs[s].second : pairs[s].first;
    keys.push_back(key);
  }
  return keys;
}

}  // namespace

TEST_CASE("WordPieceTokenizer: a vocabulary of chosen colliding tokens does not make one probe cluster") {
  const std::vector<std::string> keys = fnv_low_bit_multicollision(12);  // 4,096 keys of 36 letters
  {
    // Unseeded FNV-1a put all 4,096 in one run of slots: every insertion and lookup walked it.
    std::uint64_t first = 0xcbf29ce484222325ull, last = first;
    for (const char c : keys.front()) first = (first ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    for (const char c : keys.back()) last = (last ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    REQUIRE(keys.front() != keys.back());
    REQUIRE((first & 0xFFFF) == (last & 0xFFFF));
  }
  detail::StringIdTable table;
  const auto key_of = [&](std::int32_t id) -> std::optional<std::string_view> { return keys[std::size_t(id)]; };
  table.build(static_cast<std::int32_t>(keys.size()), key_of);
  // 4,096 keys in 16,384 slots: with a hash that spreads them, the longest run is a few dozen at most.
  CHECK(table.longest_cluster() < 64);
  for (std::size_t id = 0; id < keys.size(); id += 97) CHECK(table.find(keys[id], key_of) == std::int32_t(id));
  CHECK(table.find("not a key", key_of) == -1);

  // The same tokens as a vocabulary: each still finds its id.
  std::string text = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (const auto& k : keys) text += k + "\n";
  const TempFile vocab("aimastery_colliding_vocab.txt", text);
  const WordPieceTokenizer tok = WordPieceTokenizer::from_file(vocab.path);
  CHECK(tok.token_to_id(keys[1234]) == 5 + 1234);
}
