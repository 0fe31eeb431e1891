// quic: Initial packet protection (RFC 9001 5, RFC 9369 3.3) with OpenSSL's libcrypto.
//
// The keys of Initial packets derive from public values only (a per-version salt and the
// client's first Destination Connection ID), so a passive observer can read the ClientHello.
// One InitialCrypto per worker: it holds the EVP cipher contexts, fetched and allocated once in
// the constructor, and re-keys them per use; HKDF runs on a stack SHA-256 context. Deriving and
// decrypting allocate nothing.
//
// Thread-safety: none; each worker owns its own.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quic_parser.hpp"

// OpenSSL's types, declared here so that users of this header need no OpenSSL headers.
typedef struct evp_cipher_st EVP_CIPHER;
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace wiremeter::quic {

// AEAD_AES_128_GCM keys of one direction, the only AEAD Initial packets use.
struct InitialKeys {
  uint8_t key[16] = {};
  uint8_t iv[12] = {};
  uint8_t hp[16] = {};
};

class InitialCrypto {
 public:
  // Throws std::runtime_error when libcrypto lacks AES-128-ECB or AES-128-GCM.
  InitialCrypto();
  ~InitialCrypto();
  InitialCrypto(const InitialCrypto&) = delete;
  InitialCrypto& operator=(const InitialCrypto&) = delete;

  // The Initial keys of the client ("client in") or server ("server in") for `version` (which
  // must have a salt) and the client's original Destination Connection ID.
  bool derive(const VersionInfo& version, const uint8_t* dcid, size_t dcid_len, bool server,
              InitialKeys& out) noexcept;

  // Removes header protection and decrypts one long-header packet in place. `packet` is a
  // writable copy of the packet's `len` bytes (LongHeader::packet_len), `pn_offset` where its
  // packet number starts. On success the plaintext is packet[payload_offset, +payload_len).
  // kTooShortToDecrypt or kDecryptFailed otherwise (the copy is then garbled).
  Error decrypt(const InitialKeys& keys, uint8_t* packet, size_t len, size_t pn_offset,
                size_t& payload_offset, size_t& payload_len, uint64_t& packet_number) noexcept;

  // Protects a plaintext Initial packet in place (the inverse of decrypt): for tests and the
  // fuzzer, which need valid packets to reach the frame and ClientHello readers.
  // `packet[pn_offset, +pn_len)` is the packet number, followed by the plaintext and 16 spare
  // bytes for the tag; the first byte's low two bits must say pn_len - 1.
  bool encrypt(const InitialKeys& keys, uint8_t* packet, size_t len, size_t pn_offset) noexcept;

  // HMAC-SHA-256 and the TLS 1.3 HKDF-Expand-Label (RFC 8446 7.1) with an empty context, for
  // outputs of at most 32 bytes. Public for the RFC 9001 test vectors.
  bool hmac(const uint8_t* key, size_t key_len, const uint8_t* a, size_t a_len, const uint8_t* b,
            size_t b_len, uint8_t out[32]) noexcept;
  bool expand_label(const uint8_t secret[32], const char* label, uint8_t* out,
                    size_t out_len) noexcept;

 private:
  void release() noexcept;
  bool header_mask(const uint8_t hp[16], const uint8_t* sample, uint8_t mask[16]) noexcept;

  EVP_CIPHER* ecb_ = nullptr;
  EVP_CIPHER* gcm_ = nullptr;
  EVP_CIPHER_CTX* ecb_ctx_ = nullptr;
  EVP_CIPHER_CTX* gcm_dec_ = nullptr;
  EVP_CIPHER_CTX* gcm_enc_ = nullptr;
};

}  // namespace wiremeter::quic
