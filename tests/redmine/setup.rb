# Prepares the casavi-bridge test instance of Redmine; run by tests/redmine/install.sh through
# `bundle exec rails runner` after `rake db:migrate redmine:load_default_data` (REDMINE_LANG=en).
#
# What the pristine database holds:
# - REST API on; login required (so a bad API key gets 401, not anonymous access);
#   attachments up to 10 MB (casavi's limit); CommonMark text formatting, so the markdown the
#   bridge writes renders as written; no notification e-mails; parent issues' dates, priority
#   and done ratio independent of their children (a due date the bridge writes stays as written).
# - The default trackers (Bug, Feature, Support) plus "Task", whose workflow is Support's except
#   that "Rejected" is final: a transition out of it is refused (Redmine then answers 204 and
#   changes nothing, which the connector must notice).
# - Project "ops" (private) with every tracker and the issue custom field "casavi ticket"
#   (string, every tracker, filterable and searchable: `cf_N=P-1` finds an issue).
# - A non-admin user "casavi-bridge" with the Manager role on "ops" (what an operator would
#   give the bridge), and the admin; both have API keys.
# Writes the values the tests need as JSON to $CASAVI_INFO_FILE.
require "json"
require "securerandom"

formats = Redmine::WikiFormatting.format_names
Setting.rest_api_enabled = "1"
Setting.login_required = "1"
Setting.attachment_max_size = "10240" # KB
Setting.text_formatting = formats.include?("common_mark") ? "common_mark" : "markdown"
Setting.notified_events = []
Setting.parent_issue_dates = "independent"
Setting.parent_issue_priority = "independent"
Setting.parent_issue_done_ratio = "independent"
Setting.default_language = "en"

new_status = IssueStatus.find_by!(name: "New")
rejected = IssueStatus.find_by!(name: "Rejected")
support = Tracker.find_by!(name: "Support")
task = Tracker.find_by(name: "Task") ||
  Tracker.create!(name: "Task", default_status: new_status, is_in_roadmap: false)
WorkflowRule.copy(support, nil, task, nil)
WorkflowTransition.where(tracker_id: task.id, old_status_id: rejected.id).delete_all

project = Project.find_by(identifier: "ops") || Project.new(identifier: "ops")
project.name = "Ops"
project.is_public = false
project.tracker_ids = Tracker.sorted.map(&:id)
project.enabled_module_names = %w[issue_tracking files]
project.save!

field = IssueCustomField.find_by(name: "casavi ticket") || IssueCustomField.new(name: "casavi ticket")
field.field_format = "string"
field.is_for_all = true
field.is_filter = true
field.searchable = true
field.visible = true
field.tracker_ids = Tracker.sorted.map(&:id)
field.save!

admin = User.find_by!(login: "admin")
admin.update!(mail_notification: "none")
bridge = User.find_by(login: "casavi-bridge") || User.new(
  firstname: "casavi", lastname: "bridge", mail: "casavi-bridge@example.com"
)
bridge.login = "casavi-bridge"
bridge.password = bridge.password_confirmation = SecureRandom.hex(16)
bridge.mail_notification = "none"
bridge.admin = false
bridge.save!
manager = Role.find_by!(name: "Manager")
unless Member.exists?(project_id: project.id, user_id: bridge.id)
  Member.create!(project: project, principal: bridge, role_ids: [manager.id])
end

info = {
  setup_version: Integer(ENV.fetch("CASAVI_SETUP_VERSION")),
  instance: ENV.fetch("REDMINE_INSTANCE"),
  redmine_version: Redmine::VERSION.to_s,
  pristine_db: ENV.fetch("CASAVI_PRISTINE_DB"),
  bundler_version: ENV["BUNDLER_VERSION"],
  api_key: bridge.api_key,
  user_login: bridge.login,
  user_id: bridge.id,
  admin_api_key: admin.api_key,
  project: project.identifier,
  project_id: project.id,
  tracker: task.name,
  trackers: Tracker.sorted.map(&:name),
  custom_field_id: field.id,
  custom_field_name: field.name,
  statuses: IssueStatus.sorted.map(&:name),
  final_status: rejected.name,
  text_formatting: Setting.text_formatting,
  attachment_max_kb: Setting.attachment_max_size.to_i,
}
File.write(ENV.fetch("CASAVI_INFO_FILE"), JSON.pretty_generate(info) + "\n")
