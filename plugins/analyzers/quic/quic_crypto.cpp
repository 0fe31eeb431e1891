// quic: Initial packet protection. See quic_crypto.hpp.
#include "quic_crypto.hpp"

// OpenSSL 3 deprecates the low-level SHA256_* calls, but its EVP digest layer allocates a
// provider context at every init (measured: two mallocs per HMAC), while SHA256_CTX lives on
// the stack. Key derivation runs on the data path, so the low-level calls it is.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>
#include <stdexcept>

namespace wiremeter::quic {

InitialCrypto::InitialCrypto() {
  // Explicit fetches, once: OpenSSL 3's implicit fetch on every init would look the algorithm
  // up (under a lock) each time. The contexts are initialized with their algorithm here, so
  // later inits only change the key.
  ecb_ = EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr);
  gcm_ = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  ecb_ctx_ = EVP_CIPHER_CTX_new();
  gcm_dec_ = EVP_CIPHER_CTX_new();
  gcm_enc_ = EVP_CIPHER_CTX_new();
  bool ok = ecb_ && gcm_ && ecb_ctx_ && gcm_dec_ && gcm_enc_ &&
            EVP_EncryptInit_ex2(ecb_ctx_, ecb_, nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_set_padding(ecb_ctx_, 0) == 1 &&
            EVP_DecryptInit_ex2(gcm_dec_, gcm_, nullptr, nullptr, nullptr) == 1 &&
            EVP_EncryptInit_ex2(gcm_enc_, gcm_, nullptr, nullptr, nullptr) == 1;
  if (!ok) {
    release();
    throw std::runtime_error("libcrypto lacks AES-128-ECB or AES-128-GCM");
  }
}

InitialCrypto::~InitialCrypto() { release(); }

void InitialCrypto::release() noexcept {
  EVP_CIPHER_CTX_free(gcm_enc_);
  EVP_CIPHER_CTX_free(gcm_dec_);
  EVP_CIPHER_CTX_free(ecb_ctx_);
  EVP_CIPHER_free(gcm_);
  EVP_CIPHER_free(ecb_);
  gcm_enc_ = gcm_dec_ = ecb_ctx_ = nullptr;
  gcm_ = ecb_ = nullptr;
}

bool InitialCrypto::hmac(const uint8_t* key, size_t key_len, const uint8_t* a, size_t a_len,
                         const uint8_t* b, size_t b_len, uint8_t out[32]) noexcept {
  // RFC 2104 on a stack SHA256_CTX (EVP_MAC and EVP_Digest* would allocate per call).
  constexpr size_t kBlock = 64;
  if (key_len > kBlock) return false;  // the keys here are salts and secrets of <= 32 bytes
  uint8_t pad[kBlock];
  uint8_t inner[32];
  SHA256_CTX ctx;
  for (size_t i = 0; i < kBlock; ++i) {
    pad[i] = static_cast<uint8_t>((i < key_len ? key[i] : 0) ^ 0x36);
  }
  if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, pad, kBlock) != 1 ||
      (a_len && SHA256_Update(&ctx, a, a_len) != 1) ||
      (b_len && SHA256_Update(&ctx, b, b_len) != 1) || SHA256_Final(inner, &ctx) != 1) {
    return false;
  }
  for (size_t i = 0; i < kBlock; ++i) {
    pad[i] = static_cast<uint8_t>((i < key_len ? key[i] : 0) ^ 0x5c);
  }
  return SHA256_Init(&ctx) == 1 && SHA256_Update(&ctx, pad, kBlock) == 1 &&
         SHA256_Update(&ctx, inner, 32) == 1 && SHA256_Final(out, &ctx) == 1;
}

bool InitialCrypto::expand_label(const uint8_t secret[32], const char* label, uint8_t* out,
                                 size_t out_len) noexcept {
  // HkdfLabel = uint16 length, opaque label<7..255> = "tls13 " + label, opaque context<0..255>;
  // one HKDF-Expand block: T(1) = HMAC(secret, HkdfLabel || 0x01).
  size_t label_len = std::strlen(label);
  if (out_len > 32 || label_len > 32) return false;
  uint8_t info[2 + 1 + 6 + 32 + 1 + 1];
  size_t n = 0;
  info[n++] = 0;
  info[n++] = static_cast<uint8_t>(out_len);
  info[n++] = static_cast<uint8_t>(6 + label_len);
  std::memcpy(info + n, "tls13 ", 6);
  n += 6;
  std::memcpy(info + n, label, label_len);
  n += label_len;
  info[n++] = 0;  // empty context
  info[n++] = 1;  // the block counter
  uint8_t block[32];
  if (!hmac(secret, 32, info, n, nullptr, 0, block)) return false;
  std::memcpy(out, block, out_len);
  return true;
}

bool InitialCrypto::derive(const VersionInfo& version, const uint8_t* dcid, size_t dcid_len,
                           bool server, InitialKeys& out) noexcept {
  if (!version.salt || dcid_len > kMaxCid) return false;
  uint8_t initial[32], secret[32];
  // initial_secret = HKDF-Extract(salt, client_dst_connection_id) = HMAC(salt, dcid)
  if (!hmac(version.salt, 20, dcid, dcid_len, nullptr, 0, initial) ||
      !expand_label(initial, server ? "server in" : "client in", secret, 32)) {
    return false;
  }
  return version.v2 ? expand_label(secret, "quicv2 key", out.key, 16) &&
                          expand_label(secret, "quicv2 iv", out.iv, 12) &&
                          expand_label(secret, "quicv2 hp", out.hp, 16)
                    : expand_label(secret, "quic key", out.key, 16) &&
                          expand_label(secret, "quic iv", out.iv, 12) &&
                          expand_label(secret, "quic hp", out.hp, 16);
}

bool InitialCrypto::header_mask(const uint8_t hp[16], const uint8_t* sample,
                                uint8_t mask[16]) noexcept {
  int n = 0;
  return EVP_EncryptInit_ex2(ecb_ctx_, nullptr, hp, nullptr, nullptr) == 1 &&
         EVP_EncryptUpdate(ecb_ctx_, mask, &n, sample, 16) == 1 && n == 16;
}

Error InitialCrypto::decrypt(const InitialKeys& keys, uint8_t* packet, size_t len, size_t pn_offset,
                             size_t& payload_offset, size_t& payload_len,
                             uint64_t& packet_number) noexcept {
  // RFC 9001 5.4.2: the sample starts 4 bytes after the packet number's start, as if it were
  // 4 bytes long; the payload must also hold the 16-byte tag.
  if (pn_offset > len || len - pn_offset < 4 + 16) return Error::kTooShortToDecrypt;
  uint8_t mask[16];
  if (!header_mask(keys.hp, packet + pn_offset + 4, mask)) return Error::kDecryptFailed;
  packet[0] ^= mask[0] & 0x0f;  // long header: the low 4 bits are protected
  size_t pn_len = (packet[0] & 3) + 1;
  uint64_t pn = 0;
  for (size_t i = 0; i < pn_len; ++i) {
    packet[pn_offset + i] ^= mask[1 + i];
    pn = pn << 8 | packet[pn_offset + i];
  }
  payload_offset = pn_offset + pn_len;
  if (len - payload_offset < 16) return Error::kTooShortToDecrypt;
  size_t cipher_len = len - payload_offset - 16;
  if (cipher_len > INT32_MAX) return Error::kTooShortToDecrypt;

  // The nonce is the IV XOR the packet number (RFC 9001 5.3). The truncated number is the
  // full one for the first packets of a connection, which are the only ones decrypted here.
  uint8_t nonce[12];
  std::memcpy(nonce, keys.iv, 12);
  for (size_t i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(pn >> (8 * i));
  uint8_t tag[16];
  std::memcpy(tag, packet + len - 16, 16);
  int n = 0, final_n = 0;
  uint8_t* text = packet + payload_offset;
  bool ok =
      EVP_DecryptInit_ex2(gcm_dec_, nullptr, keys.key, nonce, nullptr) == 1 &&
      EVP_DecryptUpdate(gcm_dec_, nullptr, &n, packet, static_cast<int>(payload_offset)) == 1 &&
      EVP_DecryptUpdate(gcm_dec_, text, &n, text, static_cast<int>(cipher_len)) == 1 &&
      EVP_CIPHER_CTX_ctrl(gcm_dec_, EVP_CTRL_AEAD_SET_TAG, 16, tag) == 1 &&
      EVP_DecryptFinal_ex(gcm_dec_, text + n, &final_n) == 1;
  if (!ok) return Error::kDecryptFailed;
  payload_len = cipher_len;
  packet_number = pn;
  return Error::kNone;
}

bool InitialCrypto::encrypt(const InitialKeys& keys, uint8_t* packet, size_t len,
                            size_t pn_offset) noexcept {
  size_t pn_len = (packet[0] & 3) + 1;
  if (pn_offset > len || len - pn_offset < pn_len + 16 || len - pn_offset < 4 + 16) return false;
  size_t payload_offset = pn_offset + pn_len;
  size_t plain_len = len - payload_offset - 16;
  uint64_t pn = 0;
  for (size_t i = 0; i < pn_len; ++i) pn = pn << 8 | packet[pn_offset + i];
  uint8_t nonce[12];
  std::memcpy(nonce, keys.iv, 12);
  for (size_t i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(pn >> (8 * i));
  int n = 0, final_n = 0;
  uint8_t* text = packet + payload_offset;
  if (EVP_EncryptInit_ex2(gcm_enc_, nullptr, keys.key, nonce, nullptr) != 1 ||
      EVP_EncryptUpdate(gcm_enc_, nullptr, &n, packet, static_cast<int>(payload_offset)) != 1 ||
      EVP_EncryptUpdate(gcm_enc_, text, &n, text, static_cast<int>(plain_len)) != 1 ||
      EVP_EncryptFinal_ex(gcm_enc_, text + n, &final_n) != 1 ||
      EVP_CIPHER_CTX_ctrl(gcm_enc_, EVP_CTRL_AEAD_GET_TAG, 16, text + plain_len) != 1) {
    return false;
  }
  uint8_t mask[16];
  if (!header_mask(keys.hp, packet + pn_offset + 4, mask)) return false;
  for (size_t i = 0; i < pn_len; ++i) packet[pn_offset + i] ^= mask[1 + i];
  packet[0] ^= mask[0] & 0x0f;
  return true;
}

}  // namespace wiremeter::quic
