<?php
// Genuine json_encode outputs for tests/unit/test_gelr.py, which holds them as literals.
// Made with PHP 8.2.36 CLI (Debian php-cli, default serialize_precision = -1):
//   php tests/data/php/gelr_json_encode.php
// Key order and flags (none) as GrowthExperiments' LinkRecommendation::toArray + json_encode.
$meta = ["application_version" => "5b4709d",
         "dataset_checksums" => ["anchors" => str_repeat("a", 64), "model" => str_repeat("b", 64)],
         "format_version" => 1, "task_timestamp" => 1724140800];
function gelr_link($text, $target, $score, $before, $after, $i) {
  return ["link_text" => $text, "link_target" => $target, "match_index" => $i, "wikitext_offset" => 8548 + $i,
          "score" => $score, "context_before" => $before, "context_after" => $after, "link_index" => $i];
}
$cases = [
  "sample" => [gelr_link("Light Entertainment", "Light entertainment", 0.7461552023887634, ' 42, "The ', ' War", Ada', 0)],
  "escapes" => [gelr_link("Αθήνα/Πειραιάς", "Αθήνα", 1.0, "tab\there\\", "\u{1F600} 𠀋 <&>", 0),
                gelr_link("東京", "東京都", 0.0, "", "\n", 1),
                gelr_link("x", "C++/CLI", 1.0E-5, "\u{1}", "é", 2),
                gelr_link("y", "Y", 0.30000000000000004, "a", "b", 3)],
];
foreach ($cases as $name => $links) {
  echo $name, "\t", json_encode(["links" => $links, "meta" => $meta]), "\n";
}
