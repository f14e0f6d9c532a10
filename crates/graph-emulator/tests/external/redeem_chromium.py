"""Opens an invitation's redemption page in headless Chromium and clicks Accept.

Usage: redeem_chromium.py INVITE_REDEEM_URL
Uses Debian's /usr/bin/chromium and /usr/bin/chromedriver (no Selenium Manager, no
network). Prints one JSON object with the page title and text after the click.
"""

import json
import os
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main(url: str) -> dict:
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("B2B_CHROMIUM", "/usr/bin/chromium")
    for flag in FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="b2b-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        service = Service(os.environ.get("B2B_CHROMEDRIVER", "/usr/bin/chromedriver"))
        driver = webdriver.Chrome(service=service, options=options)
        try:
            driver.set_page_load_timeout(30)
            driver.get(url)
            before = driver.title
            button = WebDriverWait(driver, 10).until(
                expected_conditions.element_to_be_clickable((By.ID, "accept"))
            )
            button.click()
            # The form posts back to the same URL: wait for the old page to go away.
            WebDriverWait(driver, 10).until(expected_conditions.staleness_of(button))
            return {
                "title_before": before,
                "title_after": driver.title,
                "text_after": driver.find_element(By.TAG_NAME, "body").text,
            }
        finally:
            driver.quit()


if __name__ == "__main__":
    os.environ.setdefault("SE_OFFLINE", "true")
    try:
        print(json.dumps(main(sys.argv[1])))
    except Exception as e:  # noqa: BLE001 - report anything to the Rust test
        print(json.dumps({"exception": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
