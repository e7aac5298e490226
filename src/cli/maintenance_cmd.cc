// `printmeter maintenance list|done`: where each printer's maintenance items
// stand, and marking one done.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "cli/commands.h"
#include "maintenance/fleet.h"
#include "store/store.h"

namespace pm {

namespace {

struct MaintenanceCmdOptions {
  CommonOptions common;
  std::string device;
  std::string item;
  std::string at;
  std::string by;
};

int Fail(const std::string& message) {
  fmt::print(stderr, "printmeter maintenance: {}\n", message);
  return 1;
}

// "12.5h", "480m", "3.20km", "41.0d": an amount in the kind's unit.
std::string Amount(MaintenanceKind kind, double value) {
  switch (kind) {
    case MaintenanceKind::kHours:
      return fmt::format("{:.1f}h", value);
    case MaintenanceKind::kDays:
      return fmt::format("{:.1f}d", value);
    case MaintenanceKind::kFilament:
      return value >= 1000 ? fmt::format("{:.2f}km", value / 1000)
                           : fmt::format("{:.0f}m", value);
  }
  return "";
}

int RunList(const MaintenanceCmdOptions& o) {
  auto config = ResolveConfig(o.common);
  if (!config) return Fail(config.error().message);
  MaintenanceOptions options = MaintenanceOptionsFrom(*config);
  if (!o.device.empty() && !options.Items(o.device)) {
    // Names the printers that have items.
    return Fail(CheckMark(options, {o.device, "", 0, ""}).error().message);
  }
  if (options.empty()) {
    fmt::print(
        "No maintenance items are configured. Add one per item to the config "
        "file, e.g.\n\n  [[devices.ID.maintenance]]\n  item = \"nozzle\"\n  "
        "every = \"200h\"   # or \"500m\" / \"2km\" of filament, \"90d\"\n");
    return 0;
  }
  auto store = OpenStore(config->db, {.read_only = true});
  if (!store) return Fail(store.error().message);
  auto fleet = LoadFleetMaintenance(**store, options, SystemClock().Now());
  if (!fleet) return Fail(fleet.error().message);
  fmt::print("{:<16} {:<20} {:>24} {:<9} {}\n", "PRINTER", "ITEM",
             "USED / EVERY", "STATE", "LAST DONE");
  for (const DeviceMaintenance& d : *fleet) {
    if (!o.device.empty() && d.device != o.device) continue;
    for (const ItemStatus& st : d.items) {
      std::string used = fmt::format("{} / {}", Amount(st.item.kind, st.used),
                                     FormatEvery(st.item));
      std::string last =
          st.last_done ? FormatIso(st.last_done->done_at) +
                             (st.last_done->by.empty()
                                  ? std::string()
                                  : " by " + st.last_done->by)
                       : "never (counting since " + FormatIso(st.since) + ")";
      fmt::print("{:<16} {:<20} {:>24} {:<9} {}\n", d.device, st.item.item,
                 used, MaintenanceStateName(st.state), last);
    }
  }
  return 0;
}

int RunDone(const MaintenanceCmdOptions& o) {
  auto config = ResolveConfig(o.common);
  if (!config) return Fail(config.error().message);
  TimeMs now = SystemClock().Now();
  MaintenanceMark mark{o.device, o.item, now, o.by};
  if (!o.at.empty()) {
    auto at = ParseTime(o.at);
    if (!at) {
      return Fail(fmt::format(
          "--at {} is not a time; write 2024-08-02, 2024-08-02T14:30 or "
          "2024-08-02T14:30:00Z",
          o.at));
    }
    mark.done_at = *at;
  }
  MaintenanceOptions options = MaintenanceOptionsFrom(*config);
  // Checked before the database is opened: a typo is named at once.
  if (Status s = CheckMark(options, mark); !s.ok()) {
    return Fail(s.error().message);
  }
  // A reader's store: a mark is written on its own connection beside a
  // running `serve` (store.h, RecordMaintenanceMark).
  auto store = OpenStore(config->db, {.read_only = true});
  if (!store) return Fail(store.error().message);
  if (Status s = RecordMark(**store, options, mark, now); !s.ok()) {
    return Fail(s.error().message);
  }
  fmt::print("Marked {} on {} done at {}{}; its counter starts again.\n",
             mark.item, mark.device, FormatIso(mark.done_at),
             mark.by.empty() ? "" : " by " + mark.by);
  return 0;
}

}  // namespace

void AddMaintenanceCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "maintenance",
      "Show which maintenance items are due, and mark one done");
  cmd->require_subcommand(1);
  cmd->footer(
      "Items are configured per printer, with a threshold in print hours, "
      "metres of filament or days:\n\n"
      "  [[devices.delta.maintenance]]\n"
      "  item = \"nozzle\"\n"
      "  every = \"200h\"    # \"500m\" or \"2km\" of filament, \"90d\"\n\n"
      "Each counts from the last time it was marked done (never: from the "
      "printer's first contact). States: ok, due_soon (90 %), due (100 %), "
      "overdue (110 %).");

  auto list_opts = std::make_shared<MaintenanceCmdOptions>();
  auto* list = cmd->add_subcommand(
      "list", "Each printer's items: used / threshold, state, last done");
  AddCommonOptions(*list, list_opts->common);
  list->add_option("DEVICE", list_opts->device,
                   "only this printer (its Device identifier)");
  list->callback([list_opts] {
    if (int rc = RunList(*list_opts); rc != 0) throw CLI::RuntimeError(rc);
  });

  auto done_opts = std::make_shared<MaintenanceCmdOptions>();
  auto* done = cmd->add_subcommand(
      "done",
      "Mark an item done: its counter starts again from then (also while "
      "`serve` runs)");
  AddCommonOptions(*done, done_opts->common);
  done->add_option("DEVICE", done_opts->device,
                   "the printer (its Device identifier)")
      ->required();
  done->add_option("ITEM", done_opts->item,
                   "the item's name, as configured (`item = ...`)")
      ->required();
  done->add_option("--at", done_opts->at,
                   "when it was done, if not now: 2024-08-02, "
                   "2024-08-02T14:30 (UTC unless an offset is given)");
  done->add_option("--by", done_opts->by, "who did it (shown with the mark)");
  done->callback([done_opts] {
    if (int rc = RunDone(*done_opts); rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace pm
