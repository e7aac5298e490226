// ApiOptions: what the read side is told by whoever runs it. A plain struct;
// `printmeter serve` fills it from its config (cli/options.h), tests set the
// fields they need.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "maintenance/maintenance.h"
#include "forward/status.h"

namespace pm {

// A printer the operator listed, as the API shows it.
struct ConfiguredDevice {
  // Shown as the printer's name; "" shows the device id instead.
  std::string name;

  // Whether a non-empty secret is configured for it (GET /api/v1/printers
  // says secret_set, never the secret).
  bool secret_set = false;
};

struct ApiOptions {
  // The bearer token every endpoint asks for; "" leaves reading open.
  std::string read_token;

  // The bearer token the admin endpoints ask for (it also grants reading).
  // "": admin endpoints answer only clients on this machine.
  std::string admin_token;

  // The IANA zone in which bare dates are read and usage is grouped by day,
  // week and month, unless a request names another (tz=). An unknown name
  // reads as UTC, except in /api/v1/usage, which refuses it.
  std::string timezone = "UTC";

  // Shown beside costs ("EUR", "CHF", "$"); "" for none ("currency": null).
  // Display only: it converts nothing.
  std::string currency;

  // The printers listed by the operator, by device id. They are shown (and
  // counted in the fleet's utilization) before they are first heard from.
  std::map<std::string, ConfiguredDevice, std::less<>> devices;

  // The printers' maintenance items (GET /api/v1/printers, /metrics, and
  // marking one done).
  MaintenanceOptions maintenance;
  // Told the device after one of its items is marked done and stored
  // (POST .../maintenance/ITEM/done), so that a follower that publishes the
  // items (MQTT) does so at once; unset: nobody is told. Called on the
  // request's thread: it must not block.
  std::function<void(const std::string& device)> maintenance_marked;
  // The forward targets' status (GET /api/v1/forwarding, metrics); unset
  // when nothing is forwarded.
  ForwardStatusFn forwarding;
};

}  // namespace pm
