// The IEEE OUI registry (MA-L assignments): 24-bit MAC prefix -> organization name.
//
// Loaded once on the control plane from the Debian package ieee-data. Lookups are read-only
// afterwards, so any thread may call vendor() once loading is done.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wiremeter::mac {

inline constexpr const char* kOuiCsvPath = "/usr/share/ieee-data/oui.csv";
inline constexpr const char* kOuiTxtPath = "/usr/share/ieee-data/oui.txt";

class OuiRegistry {
 public:
  // Each returns false when the file cannot be opened; a file in another format loads nothing.
  bool load_csv(const std::string& path);  // Registry,Assignment,"Organization Name",...
  bool load_txt(const std::string& path);  // "XXXXXX     (base 16)\t\tOrganization"

  // The vendor of a MAC (48 bits in the low bits of `mac`), "" when unknown. Locally
  // administered and group (multicast) addresses have no vendor: their first 24 bits are not
  // an assignment.
  std::string_view vendor(uint64_t mac) const;
  size_t size() const { return entries_.size(); }

 private:
  void add(uint32_t prefix, std::string name);
  void finish();  // sorts and removes duplicate prefixes, for binary search

  std::vector<std::pair<uint32_t, std::string>> entries_;
};

}  // namespace wiremeter::mac
