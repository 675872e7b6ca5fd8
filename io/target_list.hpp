// Target lists: the image lists of the tasks beyond one class per image (nn/task.hpp).
//   multi_label  a CSV with a header holding "path" and either
//                  a "labels" column of class names separated by spaces, ';', '|' or ','
//                  (quote the field when it holds commas; an empty field is an image with no
//                  class), e.g.  path,labels / a.png,"cat dog" / b.png,
//                or one column per class holding 0 or 1, e.g.  path,cat,dog / a.png,1,1
//                a plain list holds "path names" per line, the names comma-separated (the last
//                blank-separated field, so paths may contain spaces)
//   regression   a CSV with a header holding "path" and one or more value columns, e.g.
//                path,count / a.png,3
// `columns` picks the class or value columns by name; empty: every column but "path" (and, for
// multi_label, the "labels" column when there is one). Class names come from `class_names` when
// given, else from the labels found (sorted, as class folders) or the column names. Relative paths
// resolve against the list's folder; "#" starts a comment line.
#pragma once

#include <string>
#include <vector>

#include "io/image_index.hpp"
#include "nn/task.hpp"

namespace kiln::io {

struct TargetColumns {
  nn::Task task = nn::Task::kMultiLabel;
  std::vector<std::string> columns;
};

// Throws kiln::Error naming the list file, the line and the column at fault: a row with another
// number of fields than the header, a class name outside `class_names`, a class column that is
// not 0 or 1, a value that is not a finite number.
ImageIndex index_target_list(const std::string& list_path, const TargetColumns& targets,
                             const std::vector<std::string>& class_names = {});

}  // namespace kiln::io
