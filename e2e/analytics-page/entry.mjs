// The page's script in e2e/analytics-browser.test.mjs: Segment's and RudderStack's browser SDKs as an app bundles them
// (RudderStack's with its plugins in the bundle, as an app that loads nothing from its CDN does).
import { RudderAnalytics } from "@rudderstack/analytics-js/bundled";
import { AnalyticsBrowser } from "@segment/analytics-next";

window.AnalyticsBrowser = AnalyticsBrowser;
window.RudderAnalytics = RudderAnalytics;
