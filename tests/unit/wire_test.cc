// The wire codec: frames and msgpack messages round-trip, and no input, however malformed,
// crashes the decoder or is accepted as something it is not (docs/design.md §4).
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "net/wire.h"
#include "node/prng.h"
#include "node/trace.h"

namespace raftlab::net {
namespace {

Message random_message(Prng& rng) {
  Message m;
  m.type = static_cast<MessageType>(rng.uniform(1, kMessageTypeCount + 1));
  m.from = NodeId(rng.uniform(1, 8));
  m.to = NodeId(rng.uniform(1, 8));
  m.term = Term(rng.uniform(0, 1000));
  m.prev_log_index = Index(rng.next());
  m.prev_log_term = Term(rng.uniform(0, 50));
  const uint64_t entries = rng.uniform(0, 5);
  for (uint64_t i = 0; i < entries; ++i) {
    std::string data(rng.uniform(0, 40), '\0');
    for (char& c : data) c = static_cast<char>(rng.next());
    m.entries.push_back(Entry{.term = Term(rng.uniform(0, 50)),
                              .index = Index(rng.uniform(1, 1000)),
                              .type = static_cast<EntryType>(rng.uniform(1, 4)),
                              .data = Payload(data)});
  }
  m.commit = Index(rng.uniform(0, 1000));
  m.last_log_index = Index(rng.uniform(0, 1000));
  m.last_log_term = Term(rng.uniform(0, 50));
  m.reject = rng.chance(0.5);
  m.match_index = Index(rng.uniform(0, 1000));
  m.conflict_term = Term(rng.uniform(0, 50));
  m.conflict_index = Index(rng.uniform(0, 1000));
  m.rejected_index = Index(rng.uniform(0, 1000));
  m.last_index = Index(rng.uniform(0, 1000));
  m.snapshot.index = Index(rng.uniform(0, 1000));
  m.snapshot.term = Term(rng.uniform(0, 50));
  for (uint64_t i = 0, n = rng.uniform(0, 4); i < n; ++i) {
    m.snapshot.membership.voters.push_back(NodeId(rng.uniform(1, 9)));
  }
  if (rng.chance(0.3)) m.snapshot.membership.learners.push_back(NodeId(rng.uniform(1, 9)));
  m.offset = rng.next() >> 8;
  m.chunk = Payload(std::string(rng.uniform(0, 20), 'c'));
  m.done = rng.chance(0.5);
  m.context = rng.next();
  m.read_index = Index(rng.uniform(0, 1000));
  m.transfer = rng.chance(0.5);
  m.vote_why = static_cast<uint8_t>(rng.uniform(0, kVoteWhyCount));
  m.trace_seq = rng.next();
  return m;
}

uint64_t fuzz_inputs() {
  const char* env = std::getenv("RAFTLAB_FUZZ_INPUTS");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 1'000'000;
}

}  // namespace

ClientRequest random_request(Prng& rng) {
  ClientRequest q;
  q.request_id = rng.next();
  q.op = static_cast<ClientOp>(rng.uniform(0, 5));
  q.client = rng.next();
  q.seq = rng.uniform(0, 1000);
  q.key = std::string(rng.uniform(0, 20), 'k');
  q.value = std::string(rng.uniform(0, 300), '\0');  // bytes, not text
  q.expected = rng.chance(0.5) ? std::string("\xff\x00old", 5) : std::string();
  q.stale = rng.chance(0.5);
  return q;
}

ClientResponse random_response(Prng& rng) {
  ClientResponse a;
  a.request_id = rng.next();
  a.status = static_cast<ClientStatus>(rng.uniform(0, 6));
  if (rng.chance(0.7)) a.value = std::string(rng.uniform(0, 40), 'v');  // "" is not absent
  a.leader = NodeId(rng.uniform(0, 6));
  a.leader_port = static_cast<uint16_t>(rng.uniform(0, 65536));
  a.index = Index(rng.next() >> 1);
  a.error = rng.chance(0.3) ? "not the leader" : "";
  return a;
}

TEST_CASE("wire: client requests and responses round-trip, built in place or not") {
  Prng rng(6);
  for (int i = 0; i < 500; ++i) {
    const ClientRequest q = random_request(rng);
    const ClientResponse a = random_response(rng);
    std::string in_place;
    append_frame(in_place, q);
    append_frame(in_place, a);
    std::string via_encode;
    append_frame(via_encode, encode(q));
    append_frame(via_encode, encode(a));
    REQUIRE(in_place == via_encode);
    FrameDecoder decoder;
    decoder.feed(in_place);
    std::string payload, error;
    REQUIRE(decoder.next(payload, error) == FrameDecoder::Status::kFrame);
    const Decoded dq = decode(payload);
    REQUIRE(dq.ok());
    REQUIRE(std::get<ClientRequest>(dq.value) == q);
    REQUIRE(decoder.next(payload, error) == FrameDecoder::Status::kFrame);
    const Decoded da = decode(payload);
    REQUIRE(da.ok());
    REQUIRE(std::get<ClientResponse>(da.value) == a);
  }
}

TEST_CASE("wire: an unknown client op or status is refused with a reason") {
  ClientRequest q;
  q.op = ClientOp::kCas;
  std::string bytes = encode(q);
  // [100, 1, request_id=0, op=4, ...]: the op is the 4th element, a positive fixint.
  REQUIRE(bytes[4] == '\x04');
  bytes[4] = '\x09';
  const Decoded d = decode(bytes);
  CHECK_FALSE(d.ok());
  CHECK(d.error.find("op") != std::string::npos);
  ClientResponse a;
  a.status = ClientStatus::kInvalid;
  std::string rbytes = encode(a);
  REQUIRE(rbytes[4] == '\x05');
  rbytes[4] = '\x7f';
  const Decoded r = decode(rbytes);
  CHECK_FALSE(r.ok());
  CHECK(r.error.find("status") != std::string::npos);
}

TEST_CASE("wire: every message type round-trips through a frame") {
  Prng rng(7);
  for (int i = 0; i < 2000; ++i) {
    const Message m = random_message(rng);
    std::string stream;
    append_frame(stream, encode(m));
    FrameDecoder decoder;
    decoder.feed(stream);
    std::string payload;
    std::string error;
    REQUIRE(decoder.next(payload, error) == FrameDecoder::Status::kFrame);
    const Decoded d = decode(payload);
    REQUIRE(d.ok());
    CHECK(std::get<Message>(d.value) == m);
    CHECK(decoder.next(payload, error) == FrameDecoder::Status::kNeedMore);
  }
}

TEST_CASE("wire: a refused vote's why and the trace sequence number cross the wire") {
  Message m;
  m.type = MessageType::kRequestVoteResponse;
  m.from = NodeId(2);
  m.to = NodeId(1);
  m.reject = true;
  m.vote_why = static_cast<uint8_t>(VoteWhy::kAlreadyVoted);
  m.trace_seq = 41;
  const Decoded d = decode(encode(m));
  REQUIRE(d.ok());
  CHECK(std::get<Message>(d.value).vote_why == m.vote_why);
  CHECK(std::get<Message>(d.value).trace_seq == 41);
  // The two new fields are the array's last elements, positive fixints here: a why beyond
  // VoteWhy is refused, not carried to a tracer that cannot name it.
  std::string bytes = encode(m);
  REQUIRE(bytes[bytes.size() - 2] == static_cast<char>(VoteWhy::kAlreadyVoted));
  bytes[bytes.size() - 2] = static_cast<char>(kVoteWhyCount);
  const Decoded bad = decode(bytes);
  CHECK_FALSE(bad.ok());
  CHECK(bad.error.find("vote refusal") != std::string::npos);
}

TEST_CASE("wire: the hello frame round-trips and names the cluster") {
  const Hello h{PeerKind::kClient, "lab-7f3a", NodeId(0)};
  const Decoded d = decode(encode(h));
  REQUIRE(d.ok());
  CHECK(std::get<Hello>(d.value) == h);
  const Hello p{PeerKind::kPeer, "lab-7f3a", NodeId(3)};
  CHECK(std::get<Hello>(decode(encode(p)).value) == p);
}

TEST_CASE("wire: frames split at every byte boundary reassemble") {
  Prng rng(11);
  std::string stream;
  std::vector<Message> sent;
  for (int i = 0; i < 20; ++i) {
    sent.push_back(random_message(rng));
    append_frame(stream, encode(sent.back()));
  }
  for (size_t piece : {1, 2, 3, 7, 64, 4096}) {
    FrameDecoder decoder;
    std::vector<Message> got;
    for (size_t at = 0; at < stream.size(); at += piece) {
      decoder.feed(std::string_view(stream).substr(at, piece));
      std::string payload;
      std::string error;
      while (decoder.next(payload, error) == FrameDecoder::Status::kFrame) {
        got.push_back(std::get<Message>(decode(payload).value));
      }
    }
    CHECK(got == sent);
  }
}

TEST_CASE("wire: an oversize length fails the stream instead of allocating") {
  FrameDecoder decoder;
  decoder.feed(std::string("\xff\xff\xff\xff", 4));
  std::string payload;
  std::string error;
  CHECK(decoder.next(payload, error) == FrameDecoder::Status::kError);
  CHECK(error.find("exceeds the maximum") != std::string::npos);
  decoder.feed("more");
  CHECK(decoder.next(payload, error) == FrameDecoder::Status::kError);
}

TEST_CASE("wire: type errors, wrong versions and trailing bytes are refused with a reason") {
  Prng rng(3);
  const std::string good = encode(random_message(rng));
  CHECK(decode(good).ok());
  CHECK_FALSE(decode(good + "x").ok());                          // trailing bytes
  CHECK_FALSE(decode(good.substr(0, 10)).ok());                  // truncated
  CHECK_FALSE(decode("").ok());                                  // empty
  CHECK_FALSE(decode(std::string("\x93\x01\x02\x03", 4)).ok());  // too few fields
  std::string wrong_version = good;
  wrong_version[2] = '\x09';  // [tag, version=9, ...]: the version is the array's 2nd item
  const Decoded v = decode(wrong_version);
  CHECK_FALSE(v.ok());
  CHECK(std::holds_alternative<std::monostate>(v.value));
}

TEST_CASE("wire: randomized inputs never crash the decoders (fuzz, RAFTLAB_FUZZ_INPUTS)") {
  Prng rng(20261125);
  std::vector<std::string> seeds;
  for (int i = 0; i < 64; ++i) {
    std::string frame;
    append_frame(frame, encode(random_message(rng)));
    seeds.push_back(frame);
  }
  for (int i = 0; i < 16; ++i) {  // the client protocol too
    std::string frame;
    if (i % 2 == 0) {
      append_frame(frame, random_request(rng));
    } else {
      append_frame(frame, random_response(rng));
    }
    seeds.push_back(frame);
  }
  const uint64_t inputs = fuzz_inputs();
  uint64_t frames = 0;
  uint64_t decoded_ok = 0;
  uint64_t refused = 0;
  for (uint64_t i = 0; i < inputs; ++i) {
    std::string input;
    switch (rng.uniform(0, 4)) {
      case 0: {  // random bytes
        input.resize(rng.uniform(0, 64));
        for (char& c : input) c = static_cast<char>(rng.next());
        break;
      }
      case 1: {  // a valid frame with flipped bits
        input = seeds[rng.uniform(0, seeds.size())];
        for (uint64_t k = 0, n = rng.uniform(1, 4); k < n; ++k) {
          input[rng.uniform(0, input.size())] ^= static_cast<char>(1u << rng.uniform(0, 8));
        }
        break;
      }
      case 2: {  // a valid frame cut short or with garbage spliced in
        input = seeds[rng.uniform(0, seeds.size())];
        input.resize(rng.uniform(0, input.size() + 1));
        if (rng.chance(0.5)) input.insert(rng.uniform(0, input.size() + 1), "\xc1\xdc\xff");
        break;
      }
      default: {  // a plausible header around msgpack-looking bytes
        std::string body(rng.uniform(0, 48), '\0');
        for (char& c : body) c = static_cast<char>(0x80 | (rng.next() & 0x7f));
        append_frame(input, body);
        break;
      }
    }
    FrameDecoder decoder;
    for (size_t at = 0; at < input.size();) {
      const size_t piece = rng.uniform(1, 17);
      decoder.feed(std::string_view(input).substr(at, piece));
      at += piece;
    }
    std::string payload;
    std::string error;
    FrameDecoder::Status status;
    while ((status = decoder.next(payload, error)) == FrameDecoder::Status::kFrame) {
      ++frames;
      const Decoded d = decode(payload);
      if (d.ok()) {
        ++decoded_ok;
        // Whatever decodes is a well-formed value: it survives its own round trip.
        const std::string again = std::visit(
            [](const auto& v) -> std::string {
              if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::monostate>) {
                return {};
              } else {
                return encode(v);
              }
            },
            d.value);
        const Decoded twice = decode(again);
        REQUIRE(twice.ok());
        REQUIRE(twice.value == d.value);
      } else {
        ++refused;
        REQUIRE(std::holds_alternative<std::monostate>(d.value));
      }
    }
  }
  INFO(inputs << " inputs, " << frames << " frames, " << decoded_ok << " decoded, " << refused
              << " refused");
  CHECK(frames > inputs / 4);
  CHECK(refused > inputs / 10);
}

}  // namespace raftlab::net
